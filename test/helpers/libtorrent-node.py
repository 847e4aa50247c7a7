#!/usr/bin/python3
# A libtorrent-rasterbar DHT node for the interop test (test/e2e/netns-libtorrent.test.ts), run with
# Debian's /usr/bin/python3 (python3-libtorrent) inside a network namespace:
#
#   /usr/bin/python3 libtorrent-node.py --listen 10.201.5.1:6881 --bootstrap 10.201.1.1:6881,10.201.2.1:6881
#
# One session at libtorrent's DEFAULT settings except: only the DHT (no LSD, UPnP, NAT-PMP), listening on
# the given address, bootstrapping from the given nodes. Driven by JSON lines: one request a line on stdin
# ({"id": n, "cmd": ..., ...}), one reply a line on stdout ({"id": n, "ok": true, ...} or "error"). Every
# command is bounded by its "timeout_ms" (default 10 s, at most 60 s); the process exits when stdin closes,
# or after --max-seconds (default 300) whatever happens. Binary values travel as hex.
#
# Commands:
#   info                                  -> {node_id, listen}
#   add_node {host, port}                 -> {}                     session.add_dht_node
#   announce {info_hash}                  -> {}                     a torrent for it (see below; returns at once)
#   get_peers {info_hash, timeout_ms, settle_ms}
#                                         -> {peers: ["ip:port"]}   every dht_get_peers_reply_alert for it
#                                            until settle_ms after the first peer, or timeout_ms
#   put_mutable {secret_key, public_key, value}
#                                         -> {seq, num_success}     libtorrent's own 64-byte secret key; the
#                                            value is stored as a bencoded string; salt empty; libtorrent picks
#                                            seq = the highest it found + 1
#   get_mutable {public_key}              -> {found, value, seq, authoritative}  (salt empty)
#   nodes                                 -> {nodes: [{id, ip, port}]}  the routing table (dht_live_nodes)
#   sample {host, port, target}           -> {answered, samples, num, interval, nodes}  one BEP 51 query;
#                                            answered false when no dht_sample_infohashes_alert in time
import argparse
import binascii
import json
import os
import select
import shutil
import sys
import tempfile
import time

import libtorrent as lt


def hx(b):
    return binascii.hexlify(bytes(b)).decode()


def unhex(s):
    return binascii.unhexlify(s)


def sha1(hexstr):
    return lt.sha1_hash(unhex(hexstr))


def endpoint_str(ep):
    return '%s:%d' % (ep[0], ep[1])


def snapshot(a):
    """The fields of the alerts the commands wait for, copied out of libtorrent's alert object."""
    if isinstance(a, lt.dht_get_peers_reply_alert):
        return {'kind': 'peers', 'info_hash': str(a.info_hash), 'peers': [endpoint_str(p) for p in a.peers()]}
    if isinstance(a, lt.dht_put_alert):
        return {'kind': 'put', 'key': bytes(a.public_key), 'seq': a.seq, 'num_success': a.num_success}
    if isinstance(a, lt.dht_mutable_item_alert):
        # the 2.0 binding's `item` is a dict: {'key': public key, 'value': v, ...}
        item = a.item
        value = item.get('value') if isinstance(item, dict) else item
        return {'kind': 'item', 'key': bytes(a.key), 'seq': a.seq, 'authoritative': a.authoritative,
                'value': hx(value) if isinstance(value, bytes) else None}
    if isinstance(a, lt.dht_live_nodes_alert):
        return {'kind': 'nodes', 'nodes': [{'id': str(n['nid']), 'endpoint': endpoint_str(n['endpoint'])} for n in a.nodes]}
    if isinstance(a, lt.dht_sample_infohashes_alert):
        interval = a.interval
        return {'kind': 'samples', 'endpoint': endpoint_str(a.endpoint), 'samples': [str(x) for x in a.samples],
                'num': a.num_infohashes, 'nodes': a.num_nodes,
                'interval': interval.total_seconds() if hasattr(interval, 'total_seconds') else interval}
    return None


class Node:
    def __init__(self, listen, bootstrap, log):
        self.log = log
        settings = {
            'enable_dht': True,
            'enable_lsd': False,
            'enable_upnp': False,
            'enable_natpmp': False,
            'listen_interfaces': listen,
            'dht_bootstrap_nodes': bootstrap,
            'alert_mask': int(lt.alert.category_t.dht_notification)
            | int(lt.alert.category_t.dht_operation_notification)
            | int(lt.alert.category_t.error_notification)
            | int(lt.alert.category_t.status_notification)
            | (int(lt.alert.category_t.dht_log_notification) if log else 0),
        }
        self.ses = lt.session(settings)
        self.backlog = []
        self.save_path = tempfile.mkdtemp(prefix='libtorrent-node-')

    def close(self):
        shutil.rmtree(self.save_path, ignore_errors=True)

    def node_id(self):
        # dht_state() is deprecated in 2.0 (a warning on stderr) but is the binding's only way to the id;
        # each entry is the 20-byte id followed by the address it belongs to
        ids = self.ses.dht_state().get(b'node-id') or []
        return bytes(ids[0][:20]) if ids else None

    def pump(self, wait_ms):
        """Alerts that came within wait_ms, as plain data, onto the backlog (kept for later commands). An
        alert object is only valid until the next pop_alerts(), so nothing keeps one."""
        self.ses.wait_for_alert(int(wait_ms))
        for a in self.ses.pop_alerts():
            if self.log:
                sys.stderr.write('%s: %s\n' % (type(a).__name__, a.message()))
            data = snapshot(a)
            if data is not None:
                self.backlog.append(data)
        self.backlog = self.backlog[-2000:]

    def wait(self, match, timeout_ms, settle_ms=None):
        """Alerts for which match(a) is true: the first ones (settle_ms None), or all until settle_ms after
        the first one; at most until timeout_ms."""
        deadline = time.monotonic() + timeout_ms / 1000.0
        found = []
        while True:
            rest = []
            for a in self.backlog:
                (found if match(a) else rest).append(a)
            had = len(found) > 0
            self.backlog = rest
            now = time.monotonic()
            if found and settle_ms is None:
                return found
            if now >= deadline:
                return found
            self.pump(min(100, max(1, (deadline - now) * 1000)))
            # settle_ms after the first match (the deadline only ever moves closer)
            if had and settle_ms is not None:
                deadline = min(deadline, now + settle_ms / 1000.0)

    def handle(self, req):
        cmd = req.get('cmd')
        timeout_ms = min(int(req.get('timeout_ms', 10000)), 60000)
        if cmd == 'info':
            nid = self.node_id()
            return {'node_id': hx(nid) if nid else None, 'listen': self.ses.listen_port()}
        if cmd == 'add_node':
            self.ses.add_dht_node((req['host'], int(req['port'])))
            return {}
        if cmd == 'announce':
            # session.dht_announce cannot be called from python3-libtorrent 2.0.8: its `flags` argument has
            # no Python converter (ArgumentError for any value). A torrent without metadata for the
            # info-hash is announced by libtorrent itself, at once and then every dht_announce_interval,
            # with implied_port (uTP is on by default), so peers see its DHT address and port.
            atp = lt.add_torrent_params()
            atp.info_hashes = lt.info_hash_t(sha1(req['info_hash']))
            atp.save_path = self.save_path
            atp.flags &= ~(lt.torrent_flags.paused | lt.torrent_flags.auto_managed)
            self.ses.add_torrent(atp)
            return {}
        if cmd == 'get_peers':
            ih = req['info_hash']
            self.ses.dht_get_peers(sha1(ih))
            alerts = self.wait(lambda a: a['kind'] == 'peers' and a['info_hash'] == ih,
                               timeout_ms, int(req.get('settle_ms', 1000)))
            peers = sorted({p for a in alerts for p in a['peers']})
            return {'peers': peers, 'replies': len(alerts)}
        if cmd == 'put_mutable':
            pk = unhex(req['public_key'])
            self.ses.dht_put_mutable_item(unhex(req['secret_key']), pk, unhex(req['value']), b'')
            alerts = self.wait(lambda a: a['kind'] == 'put' and a['key'] == pk, timeout_ms)
            if not alerts:
                return {'done': False}
            return {'done': True, 'seq': alerts[0]['seq'], 'num_success': alerts[0]['num_success']}
        if cmd == 'get_mutable':
            pk = unhex(req['public_key'])
            self.ses.dht_get_mutable_item(pk, b'')
            alerts = self.wait(lambda a: a['kind'] == 'item' and a['key'] == pk and a['authoritative'], timeout_ms)
            if not alerts:
                return {'found': False}
            a = alerts[-1]
            return {'found': a['value'] is not None, 'value': a['value'], 'seq': a['seq'],
                    'authoritative': a['authoritative']}
        if cmd == 'nodes':
            nid = self.node_id()
            if nid is None:
                return {'nodes': []}
            self.ses.dht_live_nodes(lt.sha1_hash(nid))
            alerts = self.wait(lambda a: a['kind'] == 'nodes', timeout_ms)
            return {'nodes': alerts[-1]['nodes'] if alerts else []}
        if cmd == 'sample':
            ep = (req['host'], int(req['port']))
            self.ses.dht_sample_infohashes(ep, sha1(req['target']))
            alerts = self.wait(lambda a: a['kind'] == 'samples' and a['endpoint'] == endpoint_str(ep), timeout_ms)
            if not alerts:
                return {'answered': False}
            answer = dict(alerts[0])
            answer.pop('kind')
            answer['answered'] = True
            return answer
        raise ValueError('unknown command %r' % (cmd,))


def main():
    parser = argparse.ArgumentParser(description='a libtorrent DHT node driven by JSON lines')
    parser.add_argument('--listen', required=True, help='listen_interfaces, e.g. 10.201.5.1:6881')
    parser.add_argument('--bootstrap', required=True, help='dht_bootstrap_nodes, e.g. 10.201.1.1:6881')
    parser.add_argument('--max-seconds', type=float, default=300)
    parser.add_argument('--log', action='store_true', help='every alert on stderr (DHT log included)')
    args = parser.parse_args()
    node = Node(args.listen, args.bootstrap, args.log)
    print(json.dumps({'ready': True}), flush=True)
    end = time.monotonic() + args.max_seconds
    buf = b''
    fd = sys.stdin.fileno()
    while time.monotonic() < end:
        readable, _, _ = select.select([fd], [], [], 0.1)
        if not readable:
            node.pump(0)
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        buf += chunk
        while b'\n' in buf:
            line, buf = buf.split(b'\n', 1)
            if not line.strip():
                continue
            req = {}
            try:
                req = json.loads(line)
                reply = {'id': req.get('id'), 'ok': True}
                reply.update(node.handle(req))
            except Exception as err:  # a bad request is answered, never fatal
                reply = {'id': req.get('id') if isinstance(req, dict) else None, 'ok': False, 'error': repr(err)}
            print(json.dumps(reply), flush=True)
    node.close()


if __name__ == '__main__':
    main()
