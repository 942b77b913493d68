/* SPDX-License-Identifier: MIT */
/* Talking to the ultravisor: capabilities over its control socket, transactions over a command
 * channel (claims 3, 4, 6, 10). */
#ifndef ULTRA_LIB_UVCLIENT_H
#define ULTRA_LIB_UVCLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <ultra/uvctl.h>

#include "txn_codec.h"

int uv_client_connect(const char *path, int *sock_out);
/* One request, its response and any fds (closed by the caller). resp->error is the daemon's. */
int uv_client_call(int sock, const struct uv_ctl_req *req, struct uv_ctl_resp *resp, int *fds,
                   unsigned max_fds, unsigned *n_fds);
/* A simple request: 0, a transport error, or the daemon's error with its message in err. */
int uv_client_simple(int sock, enum uv_ctl_op op, uint32_t partition, uint8_t role, int *fds,
                     unsigned max_fds, unsigned *n_fds, uint64_t *size, char *err, size_t errlen);

/* UV_CTL_GET_CHANNELS: the memory objects of every channel with partition as an endpoint
 * (closed by the caller), info[i] describing fds[i]. 0, a transport error, or the daemon's
 * error with its message in err. */
int uv_client_get_channels(int sock, uint32_t partition, int fds[UV_CTL_FDS_MAX],
                           struct uv_ctl_channel info[UV_CTL_FDS_MAX], unsigned *n, char *err,
                           size_t errlen);

/* Hands a running engine's memory objects back to a restarted ultravisor (UV_CTL_ADOPT_MEMORY;
 * the connection must hold the partition's monitor channel). */
int uv_client_adopt_memory(int sock, uint32_t partition, const int *fds, unsigned n, char *err,
                           size_t errlen);
/* The same for its channel memory objects (UV_CTL_ADOPT_CHANNELS). */
int uv_client_adopt_channels(int sock, uint32_t partition, const int *fds, unsigned n, char *err,
                             size_t errlen);

struct uv_cmd;
int uv_cmd_open(int sock, uint32_t partition, uint8_t role, struct uv_cmd **out, char *err,
                size_t errlen);
void uv_cmd_close(struct uv_cmd *c);
/* Busy-polls up to spin_us for an answer before sleeping on the doorbell: a durable commit takes
 * about a disk flush, so a sender that waits for it anyway can trade CPU for latency. */
void uv_cmd_set_spin(struct uv_cmd *c, unsigned spin_us);
/* Queues t (its sender fields are set from the channel; request_id assigned and returned). */
int uv_cmd_send(struct uv_cmd *c, struct uv_txn *t, uint64_t *request_id, int timeout_ms);
/* Sends len raw bytes as one record, unchecked: for tests of the ultravisor's defences. */
int uv_cmd_send_raw(struct uv_cmd *c, const void *buf, size_t len, int timeout_ms);
/* Waits for the next response. */
int uv_cmd_recv(struct uv_cmd *c, struct uv_txn_response *resp, uint64_t *request_id,
                int timeout_ms);
/* send + recv of one transaction; returns 0 and the response (whose reason may be a refusal). */
int uv_cmd_submit(struct uv_cmd *c, struct uv_txn *t, struct uv_txn_response *resp, int timeout_ms);

#endif
