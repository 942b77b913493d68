/* memscan: plant a string in guest RAM, or search all of the guest's physical RAM for one.
 * Runs inside Ultravisor guests (static, root). The isolation tests use it: guest A plants a
 * secret, guest B must not find it, A must find its own (claims 1, 13).
 *
 *   memscan plant STRING|hex:HEX   put COPIES copies in a locked buffer of a background process;
 *                                  prints "PLANTED <copies> pid <pid> phys 0x<first copy>"
 *   memscan find STRING|hex:HEX    prints "FOUND 0x<phys>" per hit (the first MAX_PRINTED), then
 *                                  "FOUND-TOTAL <hits> scanned <n> bytes (RAM <m> bytes)", or
 *                                  "NOTFOUND scanned <n> bytes (RAM <m> bytes)"
 *
 * Coverage: Debian's kernel has STRICT_DEVMEM, so /dev/mem is no use. /proc/kcore is an ELF
 * core whose PT_LOAD segments with a physical address cover the direct map of every System RAM
 * range (the same ranges as /proc/iomem), so reading those segments reads every RAM page.
 *
 * No false hits from the scanner itself: a plain-text needle also sits in argv and in the tty
 * and shell buffers, so searching from a guest that never held the secret takes hex:. The
 * decoded needle lives in one locked page that is never read through kcore (so it never passes
 * through a kernel bounce buffer either), and the search compares byte by byte so the whole
 * needle is never in a vector register whose saved copy could land in kernel memory. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096UL
#define CHUNK (1UL << 20)
#define MAX_NEEDLE 256UL
#define MIN_NEEDLE 4UL
#define MAX_PRINTED 64UL
#define PLANT_PAGES 64UL
#define KERNEL_TEXT_BASE 0xffffffff80000000ULL

struct excluded {
	uint64_t pfn[CHUNK / PAGE + 8];
	size_t n;
};

struct scan {
	const unsigned char *needle;
	size_t nlen;
	size_t anchor;
	uint64_t hits;
	uint64_t scanned;
	const struct excluded *skip;
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes "hex:..." or takes the text as is; writes straight into dst so no other copy exists. */
static int parse_needle(const char *arg, unsigned char *dst, size_t *len)
{
	size_t n = 0;

	if (strncmp(arg, "hex:", 4) == 0) {
		const char *h = arg + 4;
		for (; h[0] && h[1]; h += 2) {
			int hi = hexval(h[0]), lo = hexval(h[1]);
			if (hi < 0 || lo < 0 || n >= MAX_NEEDLE)
				return -EINVAL;
			dst[n++] = (unsigned char)(hi << 4 | lo);
		}
		if (h[0])
			return -EINVAL;
	} else {
		n = strlen(arg);
		if (n > MAX_NEEDLE)
			return -EINVAL;
		memcpy(dst, arg, n);
	}
	if (n < MIN_NEEDLE)
		return -EINVAL;
	*len = n;
	return 0;
}

/* Physical address of a resident page of ours, from /proc/self/pagemap (needs root). */
static int virt_to_phys(const void *va, uint64_t *phys)
{
	uint64_t entry;
	uintptr_t v = (uintptr_t)va;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (pread(fd, &entry, sizeof(entry), (off_t)(v / PAGE * sizeof(entry))) != sizeof(entry)) {
		r = -EIO;
		goto out;
	}
	if (!(entry >> 63) || !(entry & ((1ULL << 55) - 1))) {
		r = -ENXIO;
		goto out;
	}
	*phys = (entry & ((1ULL << 55) - 1)) * PAGE + v % PAGE;
out:
	close(fd);
	return r;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static int exclude_range(struct excluded *ex, const void *va, size_t len)
{
	for (size_t off = 0; off < len; off += PAGE) {
		uint64_t pa;
		int r = virt_to_phys((const char *)va + off, &pa);
		if (r < 0)
			return r;
		if (ex->n >= sizeof(ex->pfn) / sizeof(ex->pfn[0]))
			return -ENOSPC;
		ex->pfn[ex->n++] = pa / PAGE;
	}
	qsort(ex->pfn, ex->n, sizeof(ex->pfn[0]), cmp_u64);
	return 0;
}

static int is_excluded(const struct excluded *ex, uint64_t pfn)
{
	return bsearch(&pfn, ex->pfn, ex->n, sizeof(pfn), cmp_u64) != NULL;
}

/* Sum of the top-level "System RAM" ranges in /proc/iomem. */
static uint64_t iomem_ram_bytes(void)
{
	char line[256];
	uint64_t total = 0;
	FILE *f = fopen("/proc/iomem", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long lo, hi;
		if (line[0] != ' ' && strstr(line, ": System RAM") &&
		    sscanf(line, "%llx-%llx", &lo, &hi) == 2 && hi >= lo)
			total += hi - lo + 1;
	}
	fclose(f);
	return total;
}

static void report_hit(struct scan *s, uint64_t phys)
{
	if (s->hits++ < MAX_PRINTED)
		printf("FOUND 0x%" PRIx64 "\n", phys);
}

/* memchr finds an anchor byte, the rest is compared byte by byte (see the header comment on
 * vector registers). The anchor is the first byte that is neither 0x00 nor 0xff: RAM is mostly
 * zero or erased pages, where anchoring on 0x00 would stop at every byte. */
static size_t pick_anchor(const unsigned char *needle, size_t nlen)
{
	for (size_t i = 0; i < nlen; i++)
		if (needle[i] != 0x00 && needle[i] != 0xff)
			return i;
	return 0;
}

static void search(struct scan *s, const unsigned char *hay, size_t n, uint64_t phys)
{
	const unsigned char *start = hay, *last;

	if (n < s->nlen)
		return;
	last = hay + n - s->nlen; /* the last place a match may start */
	while (start <= last) {
		const unsigned char *a =
		    memchr(start + s->anchor, s->needle[s->anchor], (size_t)(last - start) + 1);
		size_t i = 0;
		if (!a)
			return;
		start = a - s->anchor;
		while (i < s->nlen && start[i] == s->needle[i])
			i++;
		if (i == s->nlen)
			report_hit(s, phys + (uint64_t)(start - hay));
		start++;
	}
}

/* Reads [pa, pa+len) of one RAM segment into buf, leaving our own excluded pages zero. */
static int read_chunk(int fd, const Elf64_Phdr *ph, uint64_t pa, size_t len, unsigned char *buf,
                      struct scan *s)
{
	size_t off = 0;

	while (off < len) {
		size_t run = len - off < PAGE ? len - off : PAGE;
		if (is_excluded(s->skip, (pa + off) / PAGE)) {
			memset(buf + off, 0, run);
			off += run;
			continue;
		}
		while (off + run < len && !is_excluded(s->skip, (pa + off + run) / PAGE))
			run += len - off - run < PAGE ? len - off - run : PAGE;
		off_t at = (off_t)(ph->p_offset + (pa - ph->p_paddr) + off);
		if (pread(fd, buf + off, run, at) != (ssize_t)run)
			return -EIO;
		s->scanned += run;
		off += run;
	}
	return 0;
}

/* Scans one segment chunk by chunk, carrying nlen-1 bytes so hits across chunks are seen. */
static int scan_segment(int fd, const Elf64_Phdr *ph, unsigned char *buf, struct scan *s)
{
	size_t carry = 0;

	for (uint64_t done = 0; done < ph->p_memsz;) {
		size_t len = ph->p_memsz - done < CHUNK ? (size_t)(ph->p_memsz - done) : CHUNK;
		int r = read_chunk(fd, ph, ph->p_paddr + done, len, buf + MAX_NEEDLE, s);
		if (r < 0)
			return r;
		search(s, buf + MAX_NEEDLE - carry, carry + len, ph->p_paddr + done - carry);
		carry = s->nlen - 1 < len ? s->nlen - 1 : len;
		memmove(buf + MAX_NEEDLE - carry, buf + MAX_NEEDLE + len - carry, carry);
		done += len;
	}
	return 0;
}

static int read_phdrs(int fd, Elf64_Phdr **out, size_t *count)
{
	Elf64_Ehdr eh;
	Elf64_Phdr *ph;
	size_t bytes;

	if (pread(fd, &eh, sizeof(eh), 0) != sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr) ||
	    !eh.e_phnum)
		return -EINVAL;
	bytes = (size_t)eh.e_phnum * sizeof(*ph);
	ph = malloc(bytes);
	if (!ph)
		return -ENOMEM;
	if (pread(fd, ph, bytes, (off_t)eh.e_phoff) != (ssize_t)bytes) {
		free(ph);
		return -EIO;
	}
	*out = ph;
	*count = eh.e_phnum;
	return 0;
}

/* Direct-map RAM segments: a physical address and a virtual one below the kernel text map. */
static int is_ram_segment(const Elf64_Phdr *ph)
{
	return ph->p_type == PT_LOAD && ph->p_paddr != (Elf64_Addr)-1 && ph->p_memsz &&
	       ph->p_vaddr < KERNEL_TEXT_BASE && ph->p_paddr % PAGE == 0;
}

static int scan_kcore(struct scan *s, unsigned char *buf)
{
	Elf64_Phdr *ph = NULL;
	size_t n = 0;
	int r, fd = open("/proc/kcore", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	r = read_phdrs(fd, &ph, &n);
	for (size_t i = 0; r == 0 && i < n; i++)
		if (is_ram_segment(&ph[i]))
			r = scan_segment(fd, &ph[i], buf, s);
	free(ph);
	close(fd);
	return r;
}

static void *locked_pages(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE | MAP_LOCKED, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static int cmd_find(const char *arg)
{
	struct excluded *skip = calloc(1, sizeof(*skip));
	struct scan s = {.skip = skip};
	unsigned char *needle = locked_pages(PAGE);
	unsigned char *buf = locked_pages(CHUNK + MAX_NEEDLE);
	size_t nlen = 0;
	uint64_t ram;
	int r;

	if (!needle || !buf || !skip) {
		fprintf(stderr, "memscan: cannot allocate locked buffers\n");
		return 1;
	}
	if (parse_needle(arg, needle, &nlen) < 0) {
		fprintf(stderr, "memscan: needle must be %lu-%lu bytes (text or hex:HEX)\n",
		        MIN_NEEDLE, MAX_NEEDLE);
		return 2;
	}
	s.needle = needle;
	s.nlen = nlen;
	s.anchor = pick_anchor(needle, nlen);
	r = exclude_range(skip, needle, PAGE);
	if (r == 0)
		r = exclude_range(skip, buf, CHUNK + MAX_NEEDLE);
	if (r == 0)
		r = scan_kcore(&s, buf);
	if (r < 0) {
		fprintf(stderr, "memscan: scanning /proc/kcore failed: %s\n", strerror(-r));
		return 1;
	}
	ram = iomem_ram_bytes();
	if (s.hits)
		printf("FOUND-TOTAL %" PRIu64 " scanned %" PRIu64 " bytes (RAM %" PRIu64
		       " bytes)\n",
		       s.hits, s.scanned, ram);
	else
		printf("NOTFOUND scanned %" PRIu64 " bytes (RAM %" PRIu64 " bytes)\n", s.scanned,
		       ram);
	return 0;
}

/* Child: fill the locked pages, report over the pipe, then hold the memory until killed. */
static void plant_child(int wfd, const unsigned char *str, size_t len)
{
	unsigned char *mem = locked_pages(PLANT_PAGES * PAGE);
	uint64_t phys = 0;
	char msg[128];
	int n;

	if (!mem) {
		n = snprintf(msg, sizeof(msg), "ERROR cannot allocate locked memory\n");
	} else {
		for (size_t i = 0; i < PLANT_PAGES; i++)
			memcpy(mem + i * PAGE, str, len);
		virt_to_phys(mem, &phys);
		n = snprintf(msg, sizeof(msg), "PLANTED %lu pid %d phys 0x%" PRIx64 "\n",
		             PLANT_PAGES, (int)getpid(), phys);
	}
	if (write(wfd, msg, (size_t)n) != n || !mem)
		_exit(1);
	close(wfd);
	for (;;)
		pause();
}

static int cmd_plant(const char *arg)
{
	unsigned char str[MAX_NEEDLE];
	size_t len = 0;
	char msg[128];
	int fds[2];
	ssize_t n;
	pid_t pid;

	if (parse_needle(arg, str, &len) < 0) {
		fprintf(stderr, "memscan: string must be %lu-%lu bytes (text or hex:HEX)\n",
		        MIN_NEEDLE, MAX_NEEDLE);
		return 2;
	}
	if (pipe(fds) < 0)
		return 1;
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		close(fds[0]);
		setsid();
		int null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
		}
		plant_child(fds[1], str, len);
	}
	close(fds[1]);
	n = read(fds[0], msg, sizeof(msg) - 1);
	close(fds[0]);
	if (n <= 0)
		return 1;
	msg[n] = '\0';
	fputs(msg, stdout);
	return strncmp(msg, "PLANTED", 7) ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "find") == 0)
		return cmd_find(argv[2]);
	if (argc == 3 && strcmp(argv[1], "plant") == 0)
		return cmd_plant(argv[2]);
	fprintf(stderr, "usage: memscan find STRING|hex:HEX\n"
	                "       memscan plant STRING|hex:HEX\n");
	return 2;
}
