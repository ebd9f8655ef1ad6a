# cython: language_level=3, annotation_typing=False, binding=True
# The compiled twin of activerecord/grouping.py: the very same source, compiled by
# Cython (pure-Python mode). annotation_typing=False keeps its Python semantics
# exactly (a `list` annotation does not become a type check).
include "../activerecord/grouping.py"
