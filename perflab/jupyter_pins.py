"""Jupyter config that `make lab` (perflab.serve) loads last: the token from the environment, never argv.

Loaded by Jupyter as a config file (``--config``), it pins what a user's own configuration must not
change: the token (read from JUPYTER_TOKEN, so it never appears on a command line), loopback only,
no cross-origin access, XSRF checks on. Imported as a module it does nothing.
"""
import os

try:
    c = get_config()  # noqa: F821  (traitlets provides get_config when it loads a config file)
except NameError:
    c = None

if c is not None:
    token = os.environ.get("JUPYTER_TOKEN", "")
    if len(token) < 16:
        raise SystemExit("perflab: JUPYTER_TOKEN is missing or short; start the server with "
                         "`python -m perflab.serve` (make lab)")
    c.IdentityProvider.token = token
    c.ServerApp.ip = "127.0.0.1"
    c.ServerApp.allow_remote_access = False
    c.ServerApp.allow_origin = ""
    c.ServerApp.allow_origin_pat = ""
    c.ServerApp.allow_credentials = False
    c.ServerApp.disable_check_xsrf = False
    c.ServerApp.tornado_settings = {}
    c.ServerApp.open_browser = False
