# attack: talk to the host's daemons through Unix sockets (docker, systemd) in /run and /var/run
# expect: exe_error
# needs: mounts
import os, socket


def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    for path in ("/run/docker.sock", "/var/run/docker.sock", "/run/systemd/private"):
        if os.path.exists(path):
            client = socket.socket(socket.AF_UNIX)
            client.connect(path)
            client.sendall(b"GET /containers/json HTTP/1.0\r\n\r\n")
            return client.recv(1000).decode()
    raise ConnectionError("no socket visible")
