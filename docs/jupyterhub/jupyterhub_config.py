"""JupyterHub for a labkit classroom: learners use a browser, everything runs on the instructor's machine.

One hub, one single-user JupyterLab per learner (all as the OS user that runs the hub), each kernel
pointed at the room's backend with that learner's own key. The backend can then stay on loopback:

    labkit classroom up --bind 127.0.0.1 --names ana,ben,...      # the AWS emulator: this machine only
    LABKIT_HUB_PASSWORD=<a word for the room> LABKIT_HUB_IP=<room address> \\
        jupyterhub -f docs/jupyterhub/jupyterhub_config.py          # the only port the room reaches

Learners sign in with their roster name (any case) and the room's shared password
(JupyterHub's own SharedPasswordAuthenticator; the hub refuses to start without a password of at
least 12 characters). All learners' servers run as the OS user that runs the hub: a learner's
kernel or terminal can read what that user can (the roster, other learners' folders). Fine for a
room of people you trust with that; otherwise see docs/instructors.md (one OS user per learner, or
Kubernetes: docs/jupyterhub/z2jh-values.yaml). Each gets a copy of
notebooks/ in LABKIT_HOME/hub-users/<name>/ on first sign-in (with its student/ versions), so nobody
edits anybody else's files.

Settings (environment variables):
    LABKIT_HOME          the instructor's labkit home (where `labkit classroom up` wrote the roster)
    LABKIT_HUB_IP        address the hub listens on (default 127.0.0.1; the room's address to expose it)
    LABKIT_HUB_PORT      port (default 8000)
    LABKIT_HUB_PASSWORD  the shared password (required, at least 12 characters)
    LABKIT_HUB_INTERNAL_PORT, LABKIT_HUB_PROXY_API_PORT
                         the hub's and the proxy's own ports on 127.0.0.1 (default 8081, 8001)

Tested on 127.0.0.1 by tests/unit/test_classroom.py::test_jupyterhub_gives_each_kernel_its_learners_key.
"""

import os
import shutil
import sys
from pathlib import Path

from labkit import classroom, config
from labkit.course.student import write_student_versions

c = get_config()  # noqa: F821 (provided by JupyterHub when it loads this file)

MIN_PASSWORD = 12  # one word for a whole room, tried by anyone on its network: longer than the authenticator's 8
PASSWORD = os.environ.get("LABKIT_HUB_PASSWORD", "")
if len(PASSWORD) < MIN_PASSWORD:
    raise SystemExit(
        f"labkit hub: set LABKIT_HUB_PASSWORD to a password of at least {MIN_PASSWORD} characters "
        f"(got {len(PASSWORD)}): every learner signs in with it"
    )

CHECKOUT = Path(__file__).resolve().parents[2]  # the labkit folder: its notebooks/ are the originals
BIN = Path(sys.executable).parent  # the environment JupyterHub runs in (labkit installed there too)
STATE = config.home() / "hub"
STATE.mkdir(parents=True, exist_ok=True)
USERS = config.home() / "hub-users"

c.JupyterHub.ip = os.environ.get("LABKIT_HUB_IP", "127.0.0.1")
c.JupyterHub.port = int(os.environ.get("LABKIT_HUB_PORT", "8000"))
c.JupyterHub.hub_ip = "127.0.0.1"  # the hub's internal API: never the room
c.JupyterHub.hub_port = int(os.environ.get("LABKIT_HUB_INTERNAL_PORT", "8081"))
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ.get('LABKIT_HUB_PROXY_API_PORT', '8001')}"
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.pid_file = str(STATE / "jupyterhub-proxy.pid")
c.ConfigurableHTTPProxy.command = [str(BIN / "configurable-http-proxy")]

# Who may sign in: exactly the roster, with the room's shared password. JupyterHub lower-cases the
# name typed at sign-in (Authenticator.normalize_username), so the roster's names are lower-cased
# here and found again whatever their case (classroom.find_learner).
c.JupyterHub.authenticator_class = "shared-password"  # jupyterhub.authenticators.shared (JupyterHub >= 5.1)
c.SharedPasswordAuthenticator.user_password = PASSWORD
c.Authenticator.allowed_users = {learner.name.lower() for learner in classroom.read_roster()}

# Every learner's JupyterLab runs as this OS user, in a folder of their own.
c.JupyterHub.spawner_class = "simple"  # jupyterhub.spawner.SimpleLocalProcessSpawner
c.Spawner.cmd = [str(BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = str(USERS / "{username}" / "notebooks")
c.SimpleLocalProcessSpawner.home_dir_template = str(USERS / "{username}")
c.Spawner.http_timeout = 60
c.Spawner.mem_limit = "1G"  # advisory with this spawner (see docs/instructors.md)
if os.getuid() == 0:  # containers are often root; Jupyter refuses root unless told (as `make lab` does)
    c.Spawner.args = ["--allow-root"]


def _learner_environment(spawner):
    """Before each learner's server starts: their notebooks folder, and their key in the environment."""
    name = spawner.user.name
    room = classroom.require_room()
    learner = classroom.find_learner(name)
    notebooks = USERS / name / "notebooks"
    if not notebooks.exists():  # the solved lessons, and student/ with the exercises blank (labkit student)
        skip = shutil.ignore_patterns(".ipynb_checkpoints", "student")
        shutil.copytree(CHECKOUT / "notebooks", notebooks, ignore=skip)
        write_student_versions(CHECKOUT / "notebooks", notebooks / "student")
    # A new dict: the configured one may be shared by every learner's spawner.
    spawner.environment = {
        **spawner.environment,
        **classroom.local_settings(room, learner),
        "LABKIT_HOME": str(USERS / name / ".labkit"),
    }


c.Spawner.pre_spawn_hook = _learner_environment
