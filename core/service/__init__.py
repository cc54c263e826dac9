"""``defectsort serve``: the engine behind a REST API and a small web page (Flask, served by waitress).

:mod:`core.service.app` builds the Flask application; :mod:`core.service.inference` puts one engine
behind a bounded queue; :mod:`core.service.uploads` spools request bodies to disk;
:mod:`core.service.jobs` and :mod:`core.service.job_runner` keep long jobs on disk so they survive
a restart; :mod:`core.service.openapi` describes it all.
"""
