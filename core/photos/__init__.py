"""Photos in: paths, folders and ZIPs walked into items, their bytes read on demand, decoded at the model's size.

The first stage of the data's way. Nothing here knows about models: :mod:`~core.photos.sources` turns
what a user gave into a stream of small references (and holds the limits), :mod:`~core.photos.stream`
walks on a thread of its own, :mod:`~core.photos.reader` reads bytes, :mod:`~core.photos.decode` makes an
upright RGB array; :mod:`~core.photos.conditions` re-renders a photo as another camera would take it and
:mod:`~core.photos.samples` draws the generated phone photos of the self-test and the tests.
"""
