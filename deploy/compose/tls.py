"""The compose Kafka broker's TLS files, into deploy/compose/tls/ (never committed: .gitignore).

    .venv/bin/python deploy/compose/tls.py

Issued by the local stack's development CA (`.run/ca`, or $EPD_RUN_DIR/ca; made on first use), so the
compose broker, the local stack and the local k8s overlay share one trust root:
- tls/ca.pem: the CA certificate: the clients' EPD_KAFKA_CA_FILE and the broker's truststore; for the
  local k8s overlay `kubectl -n epd create configmap epd-kafka-ca --from-file=ca.pem=deploy/compose/tls/ca.pem`;
- tls/broker.pem: the broker's PEM keystore (PKCS#8 key, its certificate, the CA), for the names the
  broker is reached by: `kafka` (compose), localhost/127.0.0.1 (the published port) and the hosts a
  local cluster sees it as (host.minikube.internal, host.docker.internal).
Development only: the key is unencrypted and readable by the broker container's user (another uid).
"""

from __future__ import annotations

import os
import pathlib
import shutil

from epd_devstack.local_ca import LocalCA

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
HOSTS = ["kafka", "localhost", "127.0.0.1", "host.minikube.internal", "host.docker.internal"]


def main() -> None:
    run_dir = pathlib.Path(os.environ.get("EPD_RUN_DIR", REPO / ".run"))
    ca = LocalCA(run_dir / "ca").ensure()
    out = HERE / "tls"
    issued = ca.issue_server(out / "issued", "kafka-broker", HOSTS)
    shutil.copyfile(ca.cert_file, out / "ca.pem")
    keystore = out / "broker.pem"
    keystore.write_bytes(issued.key.read_bytes() + issued.cert.read_bytes() + ca.cert_file.read_bytes())
    keystore.chmod(0o644)  # the apache/kafka image runs as appuser: a development key, never a real one
    print(f"{out / 'ca.pem'}\n{keystore}")


if __name__ == "__main__":
    main()
