"""The two colorization agents of the coursework and their command lines.

``agents.basic`` is the k-means palette + 3x3-patch nearest-neighbour vote; ``agents.improved``
is a neural colorizer built on ``nn``. ``agents.cli`` holds what both command lines share:
argument checking, loading, output files and the printed summary.
"""
