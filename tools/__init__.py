"""Repository tools: generators and checks run from a checkout (``python -m tools.NAME`` from the
repository root), never installed. They may import every runtime package; no runtime package
may import them, which ``tests/unit/test_import_graph.py`` enforces."""
