"""Shared by the end-to-end benchmark drivers: paths, the one-step builder,
an unthrottled herald config and starting the real binary."""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import fixtures  # noqa: E402

TRUE_BUILDER = """
[[builder]]
name = "true"
  [[builder.step]]
  name = "true"
  command = ["true"]
"""


def unpaced_config(port, data_dir, **kwargs):
    """herald_config() with flood control relaxed: the server's, not herald's, limits apply."""
    text = fixtures.herald_config(port, data_dir, force=("*",), builders=TRUE_BUILDER, **kwargs)
    return text.replace("flood_burst = 4", "flood_burst = 100000").replace("flood_rate = 2.0", "flood_rate = 100000.0")


def start_herald(binary, config_text, workdir):
    conf = os.path.join(workdir, "herald.toml")
    with open(conf, "w") as f:
        f.write(config_text)
    log = open(os.path.join(workdir, "herald.log"), "wb")
    level = os.environ.get("HERALD_BENCH_LOG", "warn")
    return subprocess.Popen([binary, "run", "--config", conf, "--log-level", level],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
