"""A member that loses its database (a network partition between it and PostgreSQL, the broker still
reachable) fences itself: it stops consuming before a survivor may drain its session, so the survivor
drains it once and the two never take the session from each other; all acknowledged messages land once.

Before: the member kept consuming what it could not commit, took its session back from the survivor
(which then waited 30 s before trying again), and its share of the group waited for the partition to end.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import make_url

from tds_platform.stack.layout import free_port
from tests.ingest_stream.conftest import IngestRig, wait_until
from tests.servers import as_login

pytestmark = pytest.mark.slow

TAKEOVER_AFTER_S = 3.0  # TDS_TAKEOVER_AFTER_S of the rig's writers


class DatabaseProxy:
    """A TCP relay to PostgreSQL that the test can cut (every connection dropped, new ones refused)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.cut_off = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.cut_off:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            with self._lock:
                self._sockets += [client, upstream]
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        for end in (source, target):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.cut_off = True
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for end in sockets:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def restore(self) -> None:
        self.cut_off = False

    def close(self) -> None:
        self.cut()
        self._listener.close()


@pytest.fixture
def proxy(rig: IngestRig) -> Iterator[DatabaseProxy]:
    relay = DatabaseProxy(make_url(rig.database_url).port or 0)
    yield relay
    relay.close()


def test_a_member_cut_off_from_its_database_fences_itself_and_is_drained_once(rig: IngestRig,
                                                                              proxy: DatabaseProxy) -> None:
    survivor = rig.writer("a").start().wait_ready()
    url = make_url(as_login(rig.database_url, "tds_ingest")).set(port=proxy.port)
    member = rig.writer("b", TDS_DATABASE_URL=url.render_as_string(hide_password=False)).start().wait_ready()
    pub = rig.publisher()
    run = rig.publish_in_background(pub, 5000, per_second=400)
    run.wait_published(600)
    wait_until(lambda: member.metric("tds_ingest_points_total") > 0, 10, "the member has landed some readings")

    proxy.cut()
    wait_until(lambda: member.metric("tds_ingest_fences_total") >= 1, TAKEOVER_AFTER_S,
               "the member stops consuming before a survivor may claim it")
    assert member.health("/health/mqtt")[0] == 503
    wait_until(lambda: survivor.metric("tds_ingest_takeovers_total") >= 1, 15, "the survivor drains the member")
    time.sleep(3 * TAKEOVER_AFTER_S)  # time for the two to flap, were the member still consuming
    assert survivor.metric("tds_ingest_takeovers_total") == 1, "the survivor took the session over once"
    assert member.metric("tds_ingest_fences_total") == 1
    # Still cut off: everything published so far lands all the same, the member's share by the survivor.
    published = run.published
    wait_until(lambda: rig.reading_count() >= published, 10, f"the {published} readings published so far landed")

    proxy.restore()
    wait_until(lambda: member.health("/health/mqtt")[0] == 200, 20, "the member consumes again")
    sent = run.join()
    acked = pub.wait_acked(list(sent))
    assert len(acked) == len(sent)
    rig.wait_for_rows(len(sent), timeout_s=60)
    rig.assert_exactly_once(sent, acked)
    assert rig.reading_count() == len(sent)
    assert survivor.metric("tds_ingest_takeovers_total") == 1
    assert member.alive and survivor.alive
