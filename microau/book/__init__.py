"""The book's side of the package: which pages exist and which runs each shows (``manifest``),
the pages written before a notebook has been executed (``placeholders``), and the Sphinx
extension that writes them at build time (``sphinx_ext``)."""
