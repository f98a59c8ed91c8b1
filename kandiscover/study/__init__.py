"""Studies compose the stages; the stages never import the studies."""
