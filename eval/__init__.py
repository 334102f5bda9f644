"""Answer-quality evaluation over question files (see eval/README.md and `rag eval`)."""
