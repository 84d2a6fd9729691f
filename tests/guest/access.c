// SPDX-License-Identifier: MIT
/*
 * Who may put frames on the wire.  Any user may use U-Net through the
 * NIC's loopback path; a channel to another host's MAC (the only way to
 * send a frame, or to be sent one) needs CAP_NET_RAW, as a raw packet
 * socket does, or membership of the group named by the module parameter
 * wire_group.  Checked for: an unprivileged user, a member of wire_group
 * (if the module was loaded with one), and root.
 *
 *   access
 */
#include <grp.h>
#include <sys/wait.h>

#include "guest_test.h"

static const uint8_t remote_mac[6] = { 0x52, 0x54, 0x00, 0x88, 0xb5, 0x42 };

static long wire_group(void)
{
	return gt_module_param("wire_group", -1);
}

/* In a child as uid/gid 65534 with supplementary group @gid (or none). */
static void as_user(const char *who, long gid, bool want_wire)
{
	pid_t pid;
	int st;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		gt_die("fork");
	if (!pid) {
		gid_t g = (gid_t)gid;
		struct unet *u;
		struct unet_ep *a, *b;
		uint8_t mac[6];
		char name[96];
		int ch;

		if (setgroups(gid >= 0 ? 1 : 0, &g) || setgid(65534) ||
		    setuid(65534))
			gt_die("drop privileges");
		u = unet_open();
		snprintf(name, sizeof(name), "access-%s-open", who);
		gt_result(u != NULL, name, "open: %s", strerror(errno));
		if (!u)
			exit(gt_exit());
		a = unet_ep_create(u, &(struct unet_ep_attr){
			.mode = UNET_MODE_MM, .tx_entries = 64,
			.rx_entries = 64, .fq_entries = 64 });
		b = unet_ep_create(u, &(struct unet_ep_attr){
			.mode = UNET_MODE_MM, .tx_entries = 64,
			.rx_entries = 64, .fq_entries = 64 });
		snprintf(name, sizeof(name), "access-%s-endpoint", who);
		gt_result(a && b, name, "create: %s", strerror(errno));
		if (!a || !b)
			exit(gt_exit());
		gt_nic_mac(u, mac);
		ch = gt_chan_to(a, mac, unet_ep_id(b));
		snprintf(name, sizeof(name), "access-%s-loopback-channel", who);
		gt_result(ch >= 0, name, "channel to this NIC: %s",
			  ch < 0 ? strerror(-ch) : "ok");
		ch = gt_chan_to(a, remote_mac, 7);
		snprintf(name, sizeof(name), "access-%s-wire-channel-%s", who,
			 want_wire ? "allowed" : "refused");
		gt_result(want_wire ? ch >= 0 : ch == -EPERM, name,
			  "channel to another host: %s",
			  ch < 0 ? strerror(-ch) : "allowed");
		unet_ep_destroy(a);
		unet_ep_destroy(b);
		unet_close(u);
		exit(gt_exit());
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		gt_failed++;
}

int main(void)
{
	long g = wire_group();

	as_user("nobody", -1, false);
	if (g >= 0) {
		as_user("wire-group-member", g, true);
		as_user("other-group-member", g + 1, false);
	} else {
		printf("# module has no wire_group: only CAP_NET_RAW grants "
		       "the wire\n");
	}
	{
		struct unet *u = gt_open();
		struct unet_ep *a = gt_ep(u, UNET_MODE_MM, 0);
		int ch = gt_chan_to(a, remote_mac, 7);

		gt_result(ch >= 0, "access-root-wire-channel",
			  "root (CAP_NET_RAW): %s",
			  ch < 0 ? strerror(-ch) : "allowed");
		unet_ep_destroy(a);
		unet_close(u);
	}
	return gt_exit();
}
