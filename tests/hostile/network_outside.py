# attack: reach the internet (a public resolver) and resolve a name
# expect: exe_error
# needs: network
import socket


def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    with socket.create_connection(("1.1.1.1", 53), timeout=1):
        pass
    return socket.gethostbyname("example.com")
