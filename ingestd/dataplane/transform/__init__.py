"""Transform: a mapping compiled onto a table's typed, validated columns."""
