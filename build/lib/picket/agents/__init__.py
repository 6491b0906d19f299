"""Workers: Faust agents that decide commands, and batch projectors that write ClickHouse."""
