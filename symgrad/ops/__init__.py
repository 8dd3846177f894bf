"""The op library: each op declares its type rule, NumPy implementation, gradient and
shape rule in one place. Elementwise math is a table of scalar ops (``scalar_ops``) lifted
by one broadcasting ``Elemwise`` op."""
