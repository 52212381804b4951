"""Fixtures that run a throw-away etcd: skipped without etcd-server, failed in CI."""

from __future__ import annotations

import os

import pytest

from .etcd_server import ETCD_BINARY, NOT_INSTALLED, EtcdClient, running_etcd


def require_etcd() -> str:
    """The etcd binary; without it skip, or fail when CI=true so CI cannot pass vacuously."""
    if os.path.isfile(ETCD_BINARY) and os.access(ETCD_BINARY, os.X_OK):
        return ETCD_BINARY
    if os.environ.get("CI") == "true":
        pytest.fail(NOT_INSTALLED, pytrace=False)
    pytest.skip(NOT_INSTALLED)


@pytest.fixture(scope="session")
def etcd_binary() -> str:
    return require_etcd()


@pytest.fixture
def etcd_server(etcd_binary):
    """A fresh etcd on 127.0.0.1 (free ports, data dir in /dev/shm), stopped by its pid."""
    with running_etcd(etcd_binary) as server:
        yield server


@pytest.fixture
def etcd_client(etcd_server):
    client = EtcdClient(etcd_server.client_port)
    try:
        yield client
    finally:
        client.close()
