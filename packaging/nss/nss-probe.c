/* nss-probe: calls a libnss_kadnode.so.2 function directly (dlopen), for tests and debugging,
 * without touching /etc/nsswitch.conf.
 *
 *   nss-probe LIBRARY FUNCTION NAME [FAMILY [BUFLEN]]
 *     FUNCTION: gethostbyname4_r, gethostbyname3_r, gethostbyname2_r or gethostbyname_r
 *     FAMILY:   inet or inet6 (the *_r functions that take one; default inet)
 *     BUFLEN:   size of the buffer handed to the module (default 1024, 0..65536)
 *
 * Prints `status=<nss_status> errno=<n> h_errno=<n> ttl=<n> name=<name>` and then one address per
 * line; exit code 0 whatever the module answered, 2 on a usage or dlopen error.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <nss.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef enum nss_status (*fn4)(const char *, struct gaih_addrtuple **, char *, size_t, int *, int *, int32_t *);
typedef enum nss_status (*fn3)(const char *, int, struct hostent *, char *, size_t, int *, int *, int32_t *, char **);
typedef enum nss_status (*fn2)(const char *, int, struct hostent *, char *, size_t, int *, int *);
typedef enum nss_status (*fn1)(const char *, struct hostent *, char *, size_t, int *, int *);

static void print_address(int family, const void *addr)
{
	char text[INET6_ADDRSTRLEN];

	if (inet_ntop(family, addr, text, sizeof(text)) != NULL)
		printf("%s\n", text);
	else
		printf("?\n");
}

int main(int argc, char **argv)
{
	const char *lib, *func, *name;
	char sym[64];
	void *handle, *f;
	int af = AF_INET, err = 0, herr = 0;
	int32_t ttl = -1;
	size_t buflen = 1024;
	char *buffer;
	enum nss_status status;
	struct hostent he;
	char *canon = NULL;

	if (argc < 4 || argc > 6) {
		fprintf(stderr, "usage: nss-probe LIBRARY FUNCTION NAME [inet|inet6 [BUFLEN]]\n");
		return 2;
	}
	lib = argv[1];
	func = argv[2];
	name = argv[3];
	if (argc > 4)
		af = strcmp(argv[4], "inet6") == 0 ? AF_INET6 : strcmp(argv[4], "inet") == 0 ? AF_INET : -1;
	if (af < 0) {
		fprintf(stderr, "nss-probe: family must be inet or inet6\n");
		return 2;
	}
	if (argc > 5) {
		char *end;
		unsigned long v = strtoul(argv[5], &end, 10);
		if (*end != '\0' || v > 65536) {
			fprintf(stderr, "nss-probe: bad BUFLEN\n");
			return 2;
		}
		buflen = v;
	}
	handle = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	if (handle == NULL) {
		fprintf(stderr, "nss-probe: %s\n", dlerror());
		return 2;
	}
	snprintf(sym, sizeof(sym), "_nss_kadnode_%s", func);
	f = dlsym(handle, sym);
	if (f == NULL) {
		fprintf(stderr, "nss-probe: no symbol %s\n", sym);
		return 2;
	}
	/* exactly buflen bytes on the heap, so that valgrind sees any write past the end */
	buffer = malloc(buflen > 0 ? buflen : 1);
	if (buffer == NULL)
		return 2;
	memset(&he, 0, sizeof(he));

	if (strcmp(func, "gethostbyname4_r") == 0) {
		struct gaih_addrtuple *pat = NULL, *t;
		status = ((fn4)f)(name, &pat, buffer, buflen, &err, &herr, &ttl);
		printf("status=%d errno=%d h_errno=%d ttl=%d name=%s\n", (int)status, err, herr, (int)ttl,
			status == NSS_STATUS_SUCCESS && pat != NULL && pat->name != NULL ? pat->name : "-");
		for (t = status == NSS_STATUS_SUCCESS ? pat : NULL; t != NULL; t = t->next)
			print_address(t->family, t->addr);
	} else {
		if (strcmp(func, "gethostbyname3_r") == 0)
			status = ((fn3)f)(name, af, &he, buffer, buflen, &err, &herr, &ttl, &canon);
		else if (strcmp(func, "gethostbyname2_r") == 0)
			status = ((fn2)f)(name, af, &he, buffer, buflen, &err, &herr);
		else if (strcmp(func, "gethostbyname_r") == 0)
			status = ((fn1)f)(name, &he, buffer, buflen, &err, &herr);
		else {
			fprintf(stderr, "nss-probe: unknown function %s\n", func);
			return 2;
		}
		printf("status=%d errno=%d h_errno=%d ttl=%d name=%s\n", (int)status, err, herr, (int)ttl,
			status == NSS_STATUS_SUCCESS && he.h_name != NULL ? he.h_name : "-");
		if (status == NSS_STATUS_SUCCESS) {
			char **p;
			if (he.h_aliases == NULL || he.h_aliases[0] != NULL)
				printf("bad aliases\n");
			if (canon != NULL && canon != he.h_name)
				printf("bad canonical name\n");
			for (p = he.h_addr_list; p != NULL && *p != NULL; p++)
				print_address(he.h_addrtype, *p);
		}
	}
	free(buffer);
	dlclose(handle);
	return 0;
}
