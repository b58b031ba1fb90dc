"""An unthrottled InspIRCd on a free loopback port, for latency benchmarks.

fakelag is off and the command rate is huge, so the server's own flood
control does not hide herald's latency (see TEST-SERVERS notes in the team docs).
"""

import os
import shutil
import signal
import subprocess
import tempfile

import fixtures  # tests/integration/fixtures.py (on sys.path via the drivers)


class Inspircd:
    def __init__(self, modules=()):
        self.port = fixtures.free_port()
        self.dir = tempfile.mkdtemp(prefix="herald-bench-ircd-")
        self.conf = os.path.join(self.dir, "inspircd.conf")
        self.proc = None
        with open(self.conf, "w") as f:
            f.write(f"""<config format="xml">
<server name="irc.bench.test" description="herald bench" network="bench">
<admin name="bench" nick="bench" email="bench@localhost">
<bind address="127.0.0.1" port="{self.port}" type="clients">
<connect allow="*" commandrate="100000000" fakelag="no" resolvehostnames="no" useident="no"
         limit="1000" localmax="1000" globalmax="1000" maxchans="100" threshold="100000000"
         pingfreq="120" hardsendq="10M" softsendq="10M" recvq="64K">
<options casemapping="ascii">
<performance clonesonconnect="no">
<log method="file" type="*" level="default" target="{self.dir}/inspircd.log">
<module name="cap">
""" + "".join(f'<module name="{m}">\n' for m in modules))

    def start(self):
        binary = shutil.which("inspircd", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
        if not binary:
            raise SystemExit("inspircd not found: apt-get install inspircd")
        self.proc = subprocess.Popen(
            [binary, f"--config={self.conf}", "--nofork", "--nopid", "--runasroot"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        fixtures.wait_port(self.port, 5.0, self.proc)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)
