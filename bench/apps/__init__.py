"""The servers under test and their data: the floor and the Authlib recipe
(``gunicorn --pythonpath bench 'apps.floor_app:create_app()'``), the example
app plus ``/api/resource`` (``project_resource_app``), and ``seed.py``, run as
a script, which fills a server's database (grants, access tokens, bulk rows)."""
