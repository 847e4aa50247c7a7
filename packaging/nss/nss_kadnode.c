/* libnss_kadnode.so.2: a glibc NSS module that asks a running kadnode for names under the TLD,
 * so that every program resolves them, e.g. with this line in /etc/nsswitch.conf:
 *
 *     hosts: files kadnode [NOTFOUND=return] dns
 *
 * Names outside the TLD (KADNODE_TLD, ".p2p") never leave the process: NSS_STATUS_UNAVAIL at once,
 * so the next service (dns) answers them. Names under it are sent to the daemon's NSS port
 * (127.0.0.1:KADNODE_PORT, 4053, kadnode --nss-port) in one UDP datagram; the reply is read with a
 * deadline of KADNODE_TIMEOUT_MS (the daemon answers within 2.5 s). No daemon (connection refused)
 * or no reply in time: NSS_STATUS_UNAVAIL, never a hang.
 *
 * Protocol (the daemon's side is src/surfaces/nss.ts):
 *   request: id (2 bytes) | family (1 byte: 4 = IPv4, 6 = IPv6, 0 = both) | name (1..255 bytes, no NUL)
 *   reply:   id (2 bytes, as sent) | status (1 byte: 0 found, 1 not found, 2 try again, 3 refused)
 *            | count (1 byte, 0..32) | ttl (4 bytes, big-endian seconds)
 *            | count records: family (1 byte: 4 or 6) | address (4 or 16 bytes, network order)
 * A reply whose id differs is ignored (not ours); one with our id that breaks any rule above
 * (length, status, count, family, trailing bytes) makes the lookup fail with NSS_STATUS_UNAVAIL.
 *
 * Results: found with addresses of the asked family -> SUCCESS; found without one -> NOTFOUND
 * (NO_DATA); not found -> NOTFOUND (HOST_NOT_FOUND); try again -> TRYAGAIN (TRY_AGAIN);
 * refused -> UNAVAIL. A buffer too small -> TRYAGAIN with ERANGE (glibc retries with a bigger one).
 *
 * No global state, no allocation, fixed-size buffers on the stack: safe in threads and in any
 * process. Build: make -C packaging/nss (TLD=.p2p PORT=4053 TIMEOUT_MS=3000 to change the constants).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <nss.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>

#ifndef KADNODE_TLD
#define KADNODE_TLD ".p2p"
#endif
#ifndef KADNODE_PORT
#define KADNODE_PORT 4053
#endif
#ifndef KADNODE_TIMEOUT_MS
#define KADNODE_TIMEOUT_MS 3000
#endif

#define NAME_MAX_LEN 255
#define MAX_RECORDS 32
#define REQUEST_HEADER 3
#define REPLY_HEADER 8
#define REPLY_MAX (REPLY_HEADER + MAX_RECORDS * 17)

enum { ST_FOUND = 0, ST_NOTFOUND = 1, ST_TRYAGAIN = 2, ST_REFUSED = 3 };

struct record {
	int family; /* AF_INET or AF_INET6 */
	unsigned char addr[16];
};

struct answer {
	int status;
	int32_t ttl;
	unsigned count;
	struct record rec[MAX_RECORDS];
};

#define EXPORT __attribute__((visibility("default")))

EXPORT enum nss_status _nss_kadnode_gethostbyname4_r(const char *name, struct gaih_addrtuple **pat,
	char *buffer, size_t buflen, int *errnop, int *h_errnop, int32_t *ttlp);
EXPORT enum nss_status _nss_kadnode_gethostbyname3_r(const char *name, int af, struct hostent *result,
	char *buffer, size_t buflen, int *errnop, int *h_errnop, int32_t *ttlp, char **canonp);
EXPORT enum nss_status _nss_kadnode_gethostbyname2_r(const char *name, int af, struct hostent *result,
	char *buffer, size_t buflen, int *errnop, int *h_errnop);
EXPORT enum nss_status _nss_kadnode_gethostbyname_r(const char *name, struct hostent *result,
	char *buffer, size_t buflen, int *errnop, int *h_errnop);

/* Length of name without a trailing dot when it is a name for kadnode, else 0: 1..255 bytes of
 * [A-Za-z0-9._-] ending in the TLD (any case) after at least one more character. */
static size_t our_name(const char *name)
{
	const size_t tld = sizeof(KADNODE_TLD) - 1;
	size_t len, i;

	if (name == NULL)
		return 0;
	len = strnlen(name, NAME_MAX_LEN + 2);
	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len <= tld || len > NAME_MAX_LEN)
		return 0;
	if (strncasecmp(name + len - tld, KADNODE_TLD, tld) != 0)
		return 0;
	for (i = 0; i < len; i++) {
		const char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_'))
			return 0;
	}
	return len;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint16_t request_id(void)
{
	uint16_t id;
	struct timespec ts;

	if (getrandom(&id, sizeof(id), GRND_NONBLOCK) == (ssize_t)sizeof(id))
		return id;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint16_t)((unsigned long)ts.tv_nsec ^ (unsigned long)getpid());
}

/* 0: a valid reply to id, in *ans; 1: not a reply to id (ignore it); -1: our id, but malformed. */
static int parse_reply(const unsigned char *buf, size_t n, uint16_t id, struct answer *ans)
{
	size_t off = REPLY_HEADER;
	unsigned count, i;
	uint32_t ttl;

	if (n < 2 || (uint16_t)((buf[0] << 8) | buf[1]) != id)
		return 1;
	if (n < REPLY_HEADER || n > REPLY_MAX)
		return -1;
	if (buf[2] > ST_REFUSED)
		return -1;
	count = buf[3];
	if (count > MAX_RECORDS)
		return -1;
	ttl = ((uint32_t)buf[4] << 24) | ((uint32_t)buf[5] << 16) | ((uint32_t)buf[6] << 8) | (uint32_t)buf[7];
	for (i = 0; i < count; i++) {
		size_t alen;

		if (off >= n)
			return -1;
		if (buf[off] == 4)
			alen = 4;
		else if (buf[off] == 6)
			alen = 16;
		else
			return -1;
		off++;
		if (n - off < alen)
			return -1;
		ans->rec[i].family = alen == 4 ? AF_INET : AF_INET6;
		memset(ans->rec[i].addr, 0, sizeof(ans->rec[i].addr));
		memcpy(ans->rec[i].addr, buf + off, alen);
		off += alen;
	}
	if (off != n)
		return -1;
	ans->status = buf[2];
	ans->count = count;
	ans->ttl = ttl > INT32_MAX ? INT32_MAX : (int32_t)ttl;
	return 0;
}

/* Asks the daemon. 0 with *ans filled, or an errno value: ECONNREFUSED (no daemon), ETIMEDOUT,
 * EPROTO (a malformed reply), or what socket(), connect(), send() or poll() failed with. */
static int ask(const char *name, size_t len, unsigned char family, struct answer *ans)
{
	unsigned char req[REQUEST_HEADER + NAME_MAX_LEN];
	unsigned char buf[REPLY_MAX + 1]; /* one byte more: a longer reply shows as too long */
	const uint16_t id = request_id();
	struct sockaddr_in sa;
	int64_t deadline;
	int fd, err = ETIMEDOUT;

	if (len == 0 || len > NAME_MAX_LEN)
		return EINVAL;
	req[0] = (unsigned char)(id >> 8);
	req[1] = (unsigned char)(id & 0xff);
	req[2] = family;
	memcpy(req + REQUEST_HEADER, name, len);

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return errno;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(KADNODE_PORT);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) != 0 || send(fd, req, REQUEST_HEADER + len, 0) < 0) {
		err = errno;
		close(fd);
		return err;
	}

	deadline = now_ms() + KADNODE_TIMEOUT_MS;
	for (;;) {
		struct pollfd p;
		int64_t left = deadline - now_ms();
		ssize_t n;
		int r;

		if (left <= 0) {
			err = ETIMEDOUT;
			break;
		}
		if (left > KADNODE_TIMEOUT_MS)
			left = KADNODE_TIMEOUT_MS;
		p.fd = fd;
		p.events = POLLIN;
		p.revents = 0;
		r = poll(&p, 1, (int)left);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = errno;
			break;
		}
		if (r == 0) {
			err = ETIMEDOUT;
			break;
		}
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			err = errno; /* ECONNREFUSED: nothing listens on the port */
			break;
		}
		r = parse_reply(buf, (size_t)n, id, ans);
		if (r == 0) {
			err = 0;
			break;
		}
		if (r < 0) {
			err = EPROTO;
			break;
		}
		/* not a reply to this request: keep waiting until the deadline */
	}
	close(fd);
	return err;
}

/* The common part: name check, request, mapping the reply onto an NSS status. */
static enum nss_status lookup(const char *name, unsigned char family, struct answer *ans, size_t *lenp, int *errnop, int *h_errnop)
{
	const size_t len = our_name(name);
	int err;

	if (len == 0) {
		/* not ours: let the next service answer */
		*errnop = ENOENT;
		*h_errnop = HOST_NOT_FOUND;
		return NSS_STATUS_UNAVAIL;
	}
	err = ask(name, len, family, ans);
	if (err != 0) {
		*errnop = err;
		*h_errnop = err == ETIMEDOUT ? TRY_AGAIN : NO_RECOVERY;
		return NSS_STATUS_UNAVAIL;
	}
	*lenp = len;
	switch (ans->status) {
	case ST_FOUND:
		if (ans->count > 0)
			return NSS_STATUS_SUCCESS;
		*errnop = ENOENT;
		*h_errnop = NO_DATA;
		return NSS_STATUS_NOTFOUND;
	case ST_NOTFOUND:
		*errnop = ENOENT;
		*h_errnop = HOST_NOT_FOUND;
		return NSS_STATUS_NOTFOUND;
	case ST_TRYAGAIN:
		*errnop = EAGAIN;
		*h_errnop = TRY_AGAIN;
		return NSS_STATUS_TRYAGAIN;
	default:
		*errnop = ENOENT;
		*h_errnop = HOST_NOT_FOUND;
		return NSS_STATUS_UNAVAIL;
	}
}

static size_t pad_to(const char *p, size_t align)
{
	return (align - ((uintptr_t)p % align)) % align;
}

static enum nss_status erange(int *errnop, int *h_errnop)
{
	*errnop = ERANGE;
	*h_errnop = NETDB_INTERNAL;
	return NSS_STATUS_TRYAGAIN;
}

static enum nss_status invalid(int *errnop, int *h_errnop)
{
	*errnop = EINVAL;
	*h_errnop = NO_RECOVERY;
	return NSS_STATUS_UNAVAIL;
}

/* getaddrinfo(): every address, both families, as a list of gaih_addrtuple in buffer. */
EXPORT enum nss_status _nss_kadnode_gethostbyname4_r(const char *name, struct gaih_addrtuple **pat,
	char *buffer, size_t buflen, int *errnop, int *h_errnop, int32_t *ttlp)
{
	struct answer ans;
	struct gaih_addrtuple *tuples;
	size_t len = 0, pad, need;
	enum nss_status status;
	char *canon;
	unsigned i;

	status = lookup(name, 0, &ans, &len, errnop, h_errnop);
	if (status != NSS_STATUS_SUCCESS)
		return status;
	if (buffer == NULL || pat == NULL)
		return invalid(errnop, h_errnop);
	pad = pad_to(buffer + len + 1, __alignof__(struct gaih_addrtuple));
	need = len + 1 + pad + ans.count * sizeof(struct gaih_addrtuple);
	if (buflen < need)
		return erange(errnop, h_errnop);

	canon = buffer;
	memcpy(canon, name, len);
	canon[len] = '\0';
	tuples = (struct gaih_addrtuple *)(void *)(buffer + len + 1 + pad);
	for (i = 0; i < ans.count; i++) {
		memset(&tuples[i], 0, sizeof(tuples[i]));
		tuples[i].next = i + 1 < ans.count ? &tuples[i + 1] : NULL;
		tuples[i].name = i == 0 ? canon : NULL;
		tuples[i].family = ans.rec[i].family;
		memcpy(tuples[i].addr, ans.rec[i].addr, ans.rec[i].family == AF_INET ? 4 : 16);
	}
	/* glibc may hand in a first tuple of its own: fill it, chained to ours */
	if (*pat != NULL)
		**pat = tuples[0];
	else
		*pat = tuples;
	if (ttlp != NULL)
		*ttlp = ans.ttl;
	*errnop = 0;
	*h_errnop = NETDB_SUCCESS;
	return NSS_STATUS_SUCCESS;
}

/* gethostbyname2(): the addresses of one family as a struct hostent in buffer. */
EXPORT enum nss_status _nss_kadnode_gethostbyname3_r(const char *name, int af, struct hostent *result,
	char *buffer, size_t buflen, int *errnop, int *h_errnop, int32_t *ttlp, char **canonp)
{
	struct answer ans;
	size_t len = 0, alen, pad, need;
	unsigned i, n = 0;
	enum nss_status status;
	char **aliases, **list, *addrs, *hname;

	if (af == AF_UNSPEC)
		af = AF_INET;
	if (af != AF_INET && af != AF_INET6) {
		*errnop = EAFNOSUPPORT;
		*h_errnop = NO_DATA;
		return NSS_STATUS_UNAVAIL;
	}
	status = lookup(name, af == AF_INET ? 4 : 6, &ans, &len, errnop, h_errnop);
	if (status != NSS_STATUS_SUCCESS)
		return status;
	for (i = 0; i < ans.count; i++)
		if (ans.rec[i].family == af)
			n++;
	if (n == 0) {
		*errnop = ENOENT;
		*h_errnop = NO_DATA;
		return NSS_STATUS_NOTFOUND;
	}
	if (buffer == NULL || result == NULL)
		return invalid(errnop, h_errnop);

	/* name | pad | aliases (NULL) | address pointers (n + NULL) | addresses */
	alen = af == AF_INET ? 4 : 16;
	pad = pad_to(buffer + len + 1, __alignof__(char *));
	need = len + 1 + pad + (1 + n + 1) * sizeof(char *) + n * alen;
	if (buflen < need)
		return erange(errnop, h_errnop);

	hname = buffer;
	memcpy(hname, name, len);
	hname[len] = '\0';
	aliases = (char **)(void *)(buffer + len + 1 + pad);
	aliases[0] = NULL;
	list = aliases + 1;
	addrs = (char *)(list + n + 1);
	n = 0;
	for (i = 0; i < ans.count; i++) {
		if (ans.rec[i].family != af)
			continue;
		memcpy(addrs + n * alen, ans.rec[i].addr, alen);
		list[n] = addrs + n * alen;
		n++;
	}
	list[n] = NULL;

	result->h_name = hname;
	result->h_aliases = aliases;
	result->h_addrtype = af;
	result->h_length = (int)alen;
	result->h_addr_list = list;
	if (ttlp != NULL)
		*ttlp = ans.ttl;
	if (canonp != NULL)
		*canonp = hname;
	*errnop = 0;
	*h_errnop = NETDB_SUCCESS;
	return NSS_STATUS_SUCCESS;
}

EXPORT enum nss_status _nss_kadnode_gethostbyname2_r(const char *name, int af, struct hostent *result,
	char *buffer, size_t buflen, int *errnop, int *h_errnop)
{
	return _nss_kadnode_gethostbyname3_r(name, af, result, buffer, buflen, errnop, h_errnop, NULL, NULL);
}

EXPORT enum nss_status _nss_kadnode_gethostbyname_r(const char *name, struct hostent *result,
	char *buffer, size_t buflen, int *errnop, int *h_errnop)
{
	return _nss_kadnode_gethostbyname3_r(name, AF_INET, result, buffer, buflen, errnop, h_errnop, NULL, NULL);
}
