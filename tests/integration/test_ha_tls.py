"""A replicated node over TLS to its NATS server (``tls://`` URLs, ``replication.tls_ca``): the
certificates are made here with the openssl command, a CA and a server certificate for 127.0.0.1."""
import shutil
import subprocess

import pytest

from exchange.nats_cluster import NatsCluster, nats_server_binary
from gateway.protocol import MsgType

from ha import HaMarket

pytestmark = [
    pytest.mark.skipif(nats_server_binary() is None, reason="nats-server not installed (the ha extra)"),
    pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command is not installed"),
]


def _certificates(d):
    """A CA, and a server key and certificate it signed for IP 127.0.0.1: (ca, cert, key)."""
    run = lambda *args: subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=chuanyu test CA",
        "-keyout", "ca.key", "-out", "ca.pem")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key", "-out", "server.csr")
    (d / "ext.cnf").write_text("subjectAltName = IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1",
        "-extfile", "ext.cnf", "-out", "server.pem")
    return d / "ca.pem", d / "server.pem", d / "server.key"


def test_a_node_replicates_over_tls(tmp_path, zctx):
    certs = tmp_path / "certs"
    certs.mkdir()
    ca, cert, key = _certificates(certs)
    with NatsCluster(tmp_path / "nats", 1, tls=(cert, key)) as cluster:
        assert cluster.urls[0].startswith("tls://")
        market = HaMarket(tmp_path / "m", cluster, ("a",), replicas=1, extra=f'tls_ca = "{ca}"\n')
        try:
            market.primary()
            c = market.client(zctx, 1)
            c.login()
            c.submit(0, 1, 1, 10, 5000)
            c.submit(0, 2, 2, 10, 5000)
            got = []
            while sum(r.msg_type == MsgType.FILL for r in got) < 2:
                got += c.reports(5000) or pytest.fail(f"no fills over TLS: {got}")
        finally:
            market.stop()
