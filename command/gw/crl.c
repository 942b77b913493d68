/* SPDX-License-Identifier: MIT */
/*
 * The gateway's revocation list (--crl; claims 36, 43; docs/cmdnet.md, "Revoking a
 * certificate"). The sandbox lets the gateway open nothing once it serves, so the file is opened
 * at start and kept open; before each new client's handshake the gateway looks whether it
 * changed (one fstat) and, when it did, reads it again through that fd and verifies the new
 * list before it replaces the old one. A new list that does not pass keeps the old in force and
 * is logged; so is a file replaced by another (renamed over it), which the kept fd cannot see:
 * the list is written in place (as `openssl ca -gencrl -out` and scripts/mkcerts.sh do).
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/x509.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gw.h"
#include "tls_crl.h"

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* A store of the CA certificates and the list read from the fd now: installed, or an error. */
static int load(struct gw *g, const struct stat *sb, char *err, size_t errlen)
{
	X509_STORE *st = X509_STORE_new();
	int r = -ENOMEM;

	if (!st) {
		snprintf(err, errlen, "out of memory");
		return r;
	}
	for (int i = 0; i < sk_X509_num(g->cas); i++)
		if (X509_STORE_add_cert(st, sk_X509_value(g->cas, i)) != 1) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
	if ((r = uv_tls_crl_add_fd(st, g->crl_fd, err, errlen)) < 0)
		goto out;
	SSL_CTX_set_cert_store(g->ctx, st); /* frees the last one */
	st = NULL;
	g->crl_seen = *sb;
out:
	X509_STORE_free(st);
	return r;
}

int gw_crl_open(struct gw *g, char *err, size_t errlen)
{
	char why[320];
	struct stat sb;
	int r;

	if (!g->crl)
		return 0;
	g->cas = X509_STORE_get1_all_certs(SSL_CTX_get_cert_store(g->ctx));
	if (!g->cas) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if ((g->crl_fd = open(g->crl, O_RDONLY | O_CLOEXEC)) < 0 || fstat(g->crl_fd, &sb) < 0) {
		snprintf(err, errlen, "%s: %s", g->crl, strerror(errno));
		return -errno;
	}
	if ((r = load(g, &sb, why, sizeof(why))) < 0) {
		snprintf(err, errlen, "%s: %s", g->crl, why);
		return r;
	}
	gw_log("CRL %s: %d certificates revoked", g->crl, r);
	return 0;
}

void gw_crl_refresh(struct gw *g)
{
	struct stat sb, named;
	char why[320];
	int r;

	if (g->crl_fd < 0 || fstat(g->crl_fd, &sb) < 0)
		return;
	/* A file renamed over ours: the path names another inode now. Said once. */
	if (!g->crl_replaced && stat(g->crl, &named) == 0 &&
	    (named.st_ino != sb.st_ino || named.st_dev != sb.st_dev)) {
		g->crl_replaced = true;
		gw_log("CRL %s was replaced by another file, which this gateway cannot open: the "
		       "list it loaded stays in force until it is restarted; write the list in "
		       "place instead",
		       g->crl);
	}
	if (same_file(&sb, &g->crl_seen) || !sb.st_nlink) /* unchanged, or no longer the file */
		return;
	if ((r = load(g, &sb, why, sizeof(why))) < 0) {
		/* Said once per change: a list half written is read again at the next client. */
		if (!same_file(&sb, &g->crl_refused))
			gw_log("CRL %s: %s; the list loaded before stays in force", g->crl, why);
		g->crl_refused = sb;
		return;
	}
	gw_log("CRL %s reloaded: %d certificates revoked", g->crl, r);
}

void gw_crl_close(struct gw *g)
{
	if (g->crl_fd >= 0)
		close(g->crl_fd);
	g->crl_fd = -1;
	sk_X509_pop_free(g->cas, X509_free);
	g->cas = NULL;
}
