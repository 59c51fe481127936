"""Release tooling of kubectl-microseg: lock, wheels, zipapp, archives and the krew manifest.

Used by ``scripts/build_release.py`` and by the packaging tests; not installed with the package.
"""
