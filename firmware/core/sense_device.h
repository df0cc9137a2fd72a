/* The SENSE firmware core: protocol handling, authentication, telemetry, on top of the parser and the
 * actuator state. Boards give it an I/O context (no globals) and call feed() with received bytes and tick()
 * at their PWM update rate, then copy device.act.duty[] to their PWM driver. */
#ifndef SENSE_DEVICE_H
#define SENSE_DEVICE_H
#include <stddef.h>
#include <stdint.h>

#include "sense_actuators.h"
#include "sense_frame.h"
#include "sense_protocol.h"

#define SENSE_FW_MAJOR 1u
#define SENSE_FW_MINOR 0u
#define SENSE_FW_PATCH 0u
#define SENSE_NAME_MAX 16u
#define SENSE_TELEMETRY_FIXED_BYTES 51u
#define SENSE_TX_BODY_MAX (SENSE_TELEMETRY_FIXED_BYTES + 2u * SENSE_MAX_CHANNELS)
#define SENSE_TX_WIRE_MAX (SENSE_COBS_MAX_ENCODED(SENSE_TX_BODY_MAX + 3u) + 1u)

/* What the board provides. ctx is passed back to every call. */
typedef struct {
    void *ctx;
    /* Send wire bytes to the host (blocking is fine). */
    void (*send)(void *ctx, const uint8_t *bytes, uint16_t n_bytes);
    /* Store a provisioned key in non-volatile memory; return 1 on success. */
    int (*store_key)(void *ctx, const uint8_t key[SENSE_KEY_BYTES]);
    /* Fill buf with whatever entropy the board has (timer jitter, noise); may be weak. */
    void (*fill_entropy)(void *ctx, uint8_t *buf, uint8_t n_bytes);
} sense_board_io;

typedef struct {
    const char *name; /* ASCII, at most SENSE_NAME_MAX characters are sent */
    uint8_t n_channels;
    uint16_t update_rate_hz;
    const uint16_t *hard_caps; /* n_channels caps built into the firmware, or NULL for full scale */
    uint16_t hard_thermal_limit;
    uint32_t boot_count; /* persistent counter, increments every boot: keeps nonces unique */
} sense_board_desc;

typedef struct {
    uint32_t frames_ok;
    uint32_t unknown_type;
    uint32_t unauth_refused;
    uint32_t auth_failures;
    uint32_t seq_gaps;
    uint32_t stale_frames;
} sense_counters;

typedef struct {
    sense_board_io io;
    sense_board_desc desc;
    sense_parser parser;
    sense_actuators act;
    sense_counters counters;
    uint8_t key[SENSE_KEY_BYTES];
    uint8_t has_key;
    uint8_t link_trusted;
    uint8_t authenticated;
    uint8_t challenge_pending;
    uint8_t nonce[SENSE_NONCE_BYTES];
    uint32_t challenge_count;
    uint8_t have_seq;
    uint16_t last_seq;
    uint32_t last_t_ms;
    uint32_t boot_ms;
    uint32_t now_ms;
    uint8_t tx_body[SENSE_TX_BODY_MAX];
    uint8_t tx_payload[SENSE_TX_BODY_MAX + 3u];
    uint8_t tx_wire[SENSE_TX_WIRE_MAX];
} sense_device;

/* key: SENSE_KEY_BYTES from storage, or NULL / all 0x00 / all 0xFF when none is provisioned.
 * link_trusted: 1 for a wired link (UART/USB), 0 for BLE. */
void sense_device_init(sense_device *dev, const sense_board_desc *desc, const sense_board_io *io,
                       const uint8_t *key, uint8_t link_trusted, uint32_t now_ms);
/* A link was (re)connected or dropped: forget authentication and any half frame. */
void sense_device_link_reset(sense_device *dev, uint8_t link_trusted);
void sense_device_feed(sense_device *dev, const uint8_t *bytes, size_t n_bytes, uint32_t now_ms);
/* Returns 1 if any duty in dev->act.duty changed. */
int sense_device_tick(sense_device *dev, uint32_t now_ms);
/* Valid key material (not all 0x00 / 0xFF)? */
int sense_key_is_valid(const uint8_t *key);

#endif
