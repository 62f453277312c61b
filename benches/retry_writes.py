"""One device retrying as fast as it can while it waits for approval:
how often the state file is replaced (issue 17, point 6).

    cargo build --release && python3 benches/retry_writes.py target/release/mqreg 60

Starts `mqreg serve` on a private state with the registry unlocked, sends raw
MQTT 3.1.1 CONNECTs of one unknown device in a loop for SECONDS (each is
refused with CONNACK 5 and recorded as a pending request), counts the
attempts and how often the state file was replaced (its inode changes at each
write), then stops the broker and prints the request as `registry list` has
it (its count is every attempt: the repeats are written together).
"""
import os, socket, struct, subprocess, sys, threading, time, tempfile

MQREG = sys.argv[1]
SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 60
d = tempfile.mkdtemp()
state = os.path.join(d, "state.toml")
env = dict(os.environ, MQREG_STATE=state)
subprocess.run([MQREG, "registry", "unlock", "--for", "1h"], env=env, check=True, capture_output=True)
port = 18830 + os.getpid() % 1000
broker = subprocess.Popen([MQREG, "serve", "--listen", f"127.0.0.1:{port}"], env=env, stderr=subprocess.DEVNULL)
time.sleep(1.0)

def connect_packet(cid, user, pw):
    def s(b): return struct.pack(">H", len(b)) + b
    body = s(b"MQTT") + bytes([4, 0xC2]) + struct.pack(">H", 60) + s(cid) + s(user) + s(pw)
    n = len(body); rl = b""
    while True:
        byte = n % 128; n //= 128
        rl += bytes([byte | (0x80 if n else 0)])
        if not n: break
    return b"\x10" + rl + body

packet = connect_packet(b"gw1-board", b"gw1", b"device-secret")
stop = time.time() + SECONDS
writes = 0
last = None
def watch():
    global writes, last
    while time.time() < stop:
        try:
            ino = os.stat(state).st_ino
        except FileNotFoundError:
            ino = None
        if ino != last:
            if last is not None: writes += 1
            last = ino
        time.sleep(0.0005)
t = threading.Thread(target=watch); t.start()
attempts = 0
while time.time() < stop:
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(packet)
    s.recv(4)
    s.close()
    attempts += 1
t.join()
broker.terminate(); broker.wait()
out = subprocess.run([MQREG, "--json", "registry", "list"], env=env, capture_output=True, text=True).stdout
flat = " ".join(out.split())[:300]
print(f"{attempts} attempts in {SECONDS:.0f} s, state file replaced {writes} times; registry list: {flat}")
