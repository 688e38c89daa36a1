"""Reading signed PDFs: a byte-scanning fast path and pyHanko's full analysis."""
