"""A documented subset of KQL (the Kusto Query Language), parsed to a typed AST.

Pure: ``parse_query`` turns text into ``ast.Query`` or raises ``KqlError`` with the 1-based
line and column of the problem. The translation to SQL lives with the destinations
(``ingestd.dataplane.queries.kql_sql``); docs/kusto-queries.md lists what is served.
"""

from ingestd.domain.kql.errors import KqlError
from ingestd.domain.kql.parser import parse_query

__all__ = ["KqlError", "parse_query"]
