"""The user-facing tensor API: variable classes with NumPy-style operators, constructors,
and the functions users call to build expressions."""
