/* SPDX-License-Identifier: MIT */
/*
 * Which execution engine a Linux guest gets. /dev/kvm existing is not enough: on this machine
 * kind it is PVM, a paravirtual KVM without VMX that emulates native guests instruction by
 * instruction and cannot boot Linux. KVM is chosen only when the CPU advertises VMX/SVM and a
 * hardware KVM module (kvm_intel/kvm_amd) is what backs /dev/kvm.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "monitor.h"

static bool cpu_has_hw_virt(void)
{
	char line[4096];
	bool found = false;
	FILE *f = fopen("/proc/cpuinfo", "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5))
			continue;
		found = strstr(line, " vmx") || strstr(line, " svm");
		break;
	}
	fclose(f);
	return found;
}

static bool kvm_usable(char *why, size_t whylen)
{
	int fd;

	if (access("/sys/module/kvm_pvm", F_OK) == 0) {
		snprintf(why, whylen, "/dev/kvm is PVM (kvm_pvm), which cannot run Linux guests");
		return false;
	}
	if (access("/sys/module/kvm_intel", F_OK) && access("/sys/module/kvm_amd", F_OK)) {
		snprintf(why, whylen, "no hardware KVM module (kvm_intel/kvm_amd) loaded");
		return false;
	}
	if (!cpu_has_hw_virt()) {
		snprintf(why, whylen, "CPU has no VMX/SVM");
		return false;
	}
	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, whylen, "/dev/kvm cannot be opened");
		return false;
	}
	close(fd);
	snprintf(why, whylen, "hardware KVM available");
	return true;
}

enum uv_accel mon_accel_resolve(enum uv_accel wanted, char *why, size_t whylen)
{
	if (wanted == UV_ACCEL_KVM) {
		snprintf(why, whylen, "forced by the definition");
		return UV_ACCEL_KVM;
	}
	if (wanted == UV_ACCEL_TCG) {
		snprintf(why, whylen, "forced by the definition");
		return UV_ACCEL_TCG;
	}
	return kvm_usable(why, whylen) ? UV_ACCEL_KVM : UV_ACCEL_TCG;
}
