"""Looking inside graphs: text trees (``debugprint``) and Graphviz pictures (``to_dot``)."""

from symgrad.printing.debugprint import debugprint
from symgrad.printing.dot import render_graph, to_dot

__all__ = ["debugprint", "render_graph", "to_dot"]
