"""JupyterHub for a labkit classroom: learners use a browser, everything runs on the instructor's machine.

One hub, one single-user JupyterLab per learner (as their own OS user, or all as the hub's: below), each kernel
pointed at the room's backend with that learner's own key. The backend can then stay on loopback:

    labkit classroom up --bind 127.0.0.1 --names ana,ben,...      # the AWS emulator: this machine only
    LABKIT_HUB_PASSWORD=<a word for the room> LABKIT_HUB_IP=<room address> \\
        jupyterhub -f docs/jupyterhub/jupyterhub_config.py          # the only port the room reaches

Learners sign in with their roster name (any case) and the room's shared password
(JupyterHub's own SharedPasswordAuthenticator; the hub refuses to start without a password of at
least 12 characters). Two ways to run their servers (LABKIT_HUB_USERS):

- ``os`` (the default when the hub runs as root, Linux): each learner's JupyterLab runs as an OS user
  of their own, ``labkit-<name>`` (JupyterHub's LocalProcessSpawner, which setuid's to it), made
  beforehand from the roster by ``sudo .venv/bin/labkit classroom hub-users`` with a home of mode
  0700 holding their copy of notebooks/ (and its student/ versions). A learner's kernel or terminal
  cannot read the roster, the room's state and token (LABKIT_HOME/classroom, 0700) nor another
  learner's home. Before it starts, the hub checks as one learner's user that the checkout and its
  .venv can be run (not under /root) and that the roster cannot be read, and refuses in one line if not.
- ``shared`` (the default otherwise): every learner's JupyterLab runs as the OS user that runs the
  hub, in LABKIT_HOME/hub-users/<name>/ (a copy of notebooks/ made on first sign-in). A learner's
  kernel or terminal can read what that user can (the roster, the token, other learners' folders):
  only for a room of people you trust with that.

Both give each kernel that learner's own classroom key. Kubernetes instead: docs/jupyterhub/z2jh-values.yaml.

Settings (environment variables):
    LABKIT_HOME          the instructor's labkit home (where `labkit classroom up` wrote the roster)
    LABKIT_HUB_IP        address the hub listens on (default 127.0.0.1; the room's address to expose it)
    LABKIT_HUB_PORT      port (default 8000)
    LABKIT_HUB_PASSWORD  the shared password (required, at least 12 characters)
    LABKIT_HUB_USERS     os (one OS user per learner; needs root) or shared (default: os as root, else shared)
    LABKIT_HUB_INTERNAL_PORT, LABKIT_HUB_PROXY_API_PORT
                         the hub's and the proxy's own ports on 127.0.0.1 (default 8081, 8001)

Tested on 127.0.0.1 by tests/unit/test_classroom.py::test_jupyterhub_gives_each_kernel_its_learners_key
(shared) and tests/unit/test_hub_users.py (os, as root).
"""

import os
import pwd
import shutil
import sys
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner, set_user_setuid

from labkit import classroom, config
from labkit.classroom import hubusers
from labkit.course.student import write_student_versions

c = get_config()  # noqa: F821 (provided by JupyterHub when it loads this file)

MIN_PASSWORD = 12  # one word for a whole room, tried by anyone on its network: longer than the authenticator's 8
PASSWORD = os.environ.get("LABKIT_HUB_PASSWORD", "")
if len(PASSWORD) < MIN_PASSWORD:
    raise SystemExit(
        f"labkit hub: set LABKIT_HUB_PASSWORD to a password of at least {MIN_PASSWORD} characters "
        f"(got {len(PASSWORD)}): every learner signs in with it"
    )

MODE = os.environ.get("LABKIT_HUB_USERS") or ("os" if os.getuid() == 0 else "shared")
if MODE not in ("os", "shared"):
    raise SystemExit(f"labkit hub: LABKIT_HUB_USERS is {MODE!r}: use os (one OS user per learner) or shared")
if MODE == "os" and os.getuid() != 0:
    raise SystemExit(
        "labkit hub: LABKIT_HUB_USERS=os starts each learner's server as their OS user: run the hub as root"
    )

CHECKOUT = Path(__file__).resolve().parents[2]  # the labkit folder: its notebooks/ are the originals
BIN = Path(sys.executable).parent  # the environment JupyterHub runs in (labkit installed there too)
STATE = config.home() / "hub"
STATE.mkdir(parents=True, exist_ok=True)
STATE.chmod(0o700)  # the hub's database and cookie secret: the instructor's only
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

c.Spawner.cmd = [str(BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.http_timeout = 60
c.Spawner.mem_limit = "1G"  # advisory with these spawners (see docs/instructors.md)


class LearnerUserSpawner(LocalProcessSpawner):
    """LocalProcessSpawner with hub name ``ana`` run as OS user ``labkit-ana`` (hubusers.os_user), not ``ana``."""

    def make_preexec_fn(self, name):
        return set_user_setuid(hubusers.os_user(name))

    def user_env(self, env):
        entry = pwd.getpwnam(hubusers.os_user(self.user.name))
        env.update(USER=entry.pw_name, HOME=entry.pw_dir, SHELL=entry.pw_shell or hubusers.SHELL)
        return env


def _os_user_home(name):
    """The learner's home (made by `labkit classroom hub-users`); spawn fails with one line without it."""
    entry = hubusers.account(name)
    if entry is None or not (Path(entry.pw_dir) / "notebooks").is_dir():
        raise classroom.ClassroomError(f"no OS user {hubusers.os_user(name)}: run `labkit classroom hub-users` as root")
    return Path(entry.pw_dir)


if MODE == "os":  # each learner's JupyterLab runs as their own OS user, in their home
    try:
        hubusers.check_hub(
            classroom.read_roster(),
            sys.executable,
            [classroom.roster_path(), classroom.folder() / "state.json", STATE / "jupyterhub.sqlite"],
        )
    except classroom.ClassroomError as err:
        raise SystemExit(f"labkit hub: {err}") from None
    c.JupyterHub.spawner_class = LearnerUserSpawner
    c.Spawner.notebook_dir = "~/notebooks"
else:  # every learner's JupyterLab runs as this OS user, in a folder of their own
    c.JupyterHub.spawner_class = "simple"  # jupyterhub.spawner.SimpleLocalProcessSpawner
    c.Spawner.notebook_dir = str(USERS / "{username}" / "notebooks")
    c.SimpleLocalProcessSpawner.home_dir_template = str(USERS / "{username}")
    if os.getuid() == 0:  # containers are often root; Jupyter refuses root unless told (as `make lab` does)
        c.Spawner.args = ["--allow-root"]


def _learner_environment(spawner):
    """Before each learner's server starts: their notebooks folder, and their key in the environment."""
    name = spawner.user.name
    room = classroom.require_room()
    learner = classroom.find_learner(name)
    if MODE == "os":
        home = _os_user_home(name)
    else:
        home = USERS / name
        notebooks = home / "notebooks"
        if not notebooks.exists():  # the solved lessons, and student/ with the exercises blank (labkit student)
            skip = shutil.ignore_patterns(".ipynb_checkpoints", "student")
            shutil.copytree(CHECKOUT / "notebooks", notebooks, ignore=skip)
            write_student_versions(CHECKOUT / "notebooks", notebooks / "student")
    # A new dict: the configured one may be shared by every learner's spawner.
    spawner.environment = {
        **spawner.environment,
        **classroom.local_settings(room, learner),
        "LABKIT_HOME": str(home / ".labkit"),
    }


c.Spawner.pre_spawn_hook = _learner_environment
