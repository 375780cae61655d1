"""``POST /v1/rest/mgmt``: run one parsed management command and answer v1 tables (§3.2).

Permissions follow the key kinds (DESIGN.md "Interfaces"): creating tables and mappings needs
``configure`` (a console key); ``.ingest-from-storage-queued`` and ``.cancel`` need ``ingest``;
the ``.show`` commands need ``read``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from ingestd.api.kusto import wire
from ingestd.api.kusto.commands import (
    CancelOperation,
    Command,
    CreateMapping,
    CreateTable,
    GetIdentityToken,
    GetIngestionResources,
    IngestFromStorage,
    ShowIngestionFailures,
    ShowMappings,
    ShowOperations,
    ShowTables,
    ShowTableSchema,
    TableRef,
    Value,
    parse_command,
)
from ingestd.api.kusto.properties import parse_properties
from ingestd.api.kusto.storage import wire as storage_wire
from ingestd.control.access import Permission, Principal
from ingestd.control.catalog import Catalog
from ingestd.control.kusto import tables as kusto_tables
from ingestd.control.kusto.mappings import Mappings
from ingestd.control.kusto.queued import MAX_BLOBS_COMMAND, BlobRef, QueuedIngestion
from ingestd.control.kusto.storage.resources import ingestion_resources
from ingestd.control.kusto.storage.sas import Signer
from ingestd.control.kusto.tables import check_database
from ingestd.errors import InvalidMapping

_OPTIONS = {"enabletracking": "enableTracking", "skipbatching": "skipBatching"}


@dataclass
class Management:
    catalog: Catalog
    mappings: Mappings
    queued: QueuedIngestion
    signer: Signer

    def run(
        self,
        who: Principal,
        database: str | None,
        csl: str,
        client_request_id: str,
        *,
        base_url: str = "",
    ) -> list[wire.V1Table]:
        """``base_url``: where clients reach this server (the storage URLs start with it)."""
        command = parse_command(csl)
        who.require(_permission(command))
        project = who.project_id
        match command:
            case CreateTable(table, columns, merge):
                spec = kusto_tables.create_table(
                    self.catalog, project, _db(table, database), table.name, columns, merge=merge
                )
                # The vendor answers .create table with the JSON schema (as .show table T
                # schema as json), not the CSL one.
                return [wire.table_schema(spec, csl=False)]
            case ShowTables():
                tables = kusto_tables.show_tables(self.catalog, project, _db(None, database))
                return [wire.tables_list(tables)]
            case ShowTableSchema(table, as_csl):
                spec = kusto_tables.show_table(
                    self.catalog, project, _db(table, database), table.name
                )
                return [wire.table_schema(spec, csl=as_csl)]
            case CreateMapping(table, kind, name, text, replace):
                elements = _mapping_json(text)
                view = kusto_tables.create_mapping(
                    self.catalog,
                    self.mappings,
                    project,
                    _db(table, database),
                    table.name,
                    kind,
                    name,
                    elements,
                    replace=replace,
                )
                return [wire.mappings_table([view])]
            case ShowMappings(table, kind):
                views = kusto_tables.show_mappings(
                    self.catalog, self.mappings, project, _db(table, database), table.name, kind
                )
                return [wire.mappings_table(views)]
            case IngestFromStorage(table, urls, options, properties):
                return [
                    self._ingest(who, table, database, urls, options, properties, client_request_id)
                ]
            case ShowOperations(ids, details):
                operations = [self.queued.get(project, i) for i in ids]
                if details:
                    return [wire.operations_details(operations)]
                return [wire.operations_summary(operations)]
            case CancelOperation(value):
                return [wire.operations_summary([self.queued.cancel(project, value)])]
            case GetIngestionResources():
                resources = ingestion_resources(self.signer, base_url, project, who.project)
                return [storage_wire.resource_urls([(r.type_name, r.url) for r in resources])]
            case GetIdentityToken():
                return [storage_wire.identity_token(self.signer.identity_token(project))]
            case ShowIngestionFailures():
                return [wire.ingestion_failures(self.queued.failures(project))]

    def _ingest(
        self,
        who: Principal,
        table: TableRef,
        database: str | None,
        urls: tuple[str, ...],
        options: Mapping[str, Value],
        properties: Mapping[str, Value],
        client_request_id: str,
    ) -> wire.V1Table:
        merged: dict[str, Value] = dict(properties)
        for key, value in options.items():
            name = _OPTIONS.get(key.lower())
            if name is not None:  # CompressionFactor: a sizing hint, nothing to do
                merged.setdefault(name, value)
        parsed = parse_properties(merged, context="command")
        operation = self.queued.submit(
            who.project_id,
            _db(table, database),
            table.name,
            [BlobRef(url) for url in urls],
            parsed,
            max_blobs=MAX_BLOBS_COMMAND,
            client_request_id=client_request_id,
            origin="command",
        )
        return wire.ingest_result(operation, client_request_id)


def _permission(command: Command) -> Permission:
    match command:
        case CreateTable() | CreateMapping():
            return Permission.CONFIGURE
        case IngestFromStorage() | CancelOperation() | GetIngestionResources() | GetIdentityToken():
            return Permission.INGEST
        case _:
            return Permission.READ


def _db(table: TableRef | None, database: str | None) -> str:
    """The command's ``database('x')`` wins over the request's ``db``."""
    return check_database(table.database if table and table.database else database)


def _mapping_json(text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidMapping(
            f"the mapping is not valid JSON: {exc.msg} at character {exc.pos}"
        ) from exc
