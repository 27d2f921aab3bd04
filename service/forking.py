"""Imported last by the workers' fork server (`service.server.PRELOAD`), once it has
loaded the heavy libraries: moves every object it holds into the collector's permanent
generation (`gc.freeze`, as Python's gc documentation advises before forking), so that
collections in the workers never write to those objects' pages and the workers keep
sharing them instead of copying each page a collection touches."""

import gc

gc.freeze()
