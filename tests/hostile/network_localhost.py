# attack: reach a server on 127.0.0.1 that the host runs (the test starts one)
# expect: exe_error
# needs: network
import socket


def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    with socket.create_connection(("127.0.0.1", __PORT__), timeout=1) as connection:
        connection.sendall(b"GET /labels HTTP/1.0\r\n\r\n")
        return connection.recv(100).decode()
