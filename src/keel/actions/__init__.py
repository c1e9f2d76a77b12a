"""The action registry and the core actions: plain typed functions under dotted names."""
