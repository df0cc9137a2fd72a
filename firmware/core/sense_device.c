#include "sense_device.h"

#include <string.h>

#include "sense_sha256.h"

#define HELLO_BYTES 1u
#define AUTH_RESPONSE_BYTES SENSE_MAC_BYTES
#define SET_HEADER_BYTES 7u /* seq u16, t_ms u32, n u8 */
#define CONFIG_HEADER_BYTES 9u
#define PLAY_EFFECT_BYTES 6u
#define PING_BYTES 4u
#define ENTROPY_BYTES 16u

static uint16_t get_u16(const uint8_t *p) { return (uint16_t)(p[0] | ((uint16_t)p[1] << 8)); }
static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint8_t *put_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    return p + 2;
}
static uint8_t *put_u32(uint8_t *p, uint32_t v) {
    p = put_u16(p, (uint16_t)v);
    return put_u16(p, (uint16_t)(v >> 16));
}

int sense_key_is_valid(const uint8_t *key) {
    uint8_t all_zero = 1, all_ones = 1, i;
    if (key == NULL) {
        return 0;
    }
    for (i = 0; i < SENSE_KEY_BYTES; i++) {
        all_zero &= key[i] == 0x00u;
        all_ones &= key[i] == 0xFFu;
    }
    return !(all_zero || all_ones);
}

static void send_frame(sense_device *dev, uint8_t type, uint16_t body_len) {
    size_t n = sense_frame_encode(type, dev->tx_body, body_len, dev->tx_payload, dev->tx_wire);
    dev->io.send(dev->io.ctx, dev->tx_wire, (uint16_t)n);
}

static void send_error(sense_device *dev, uint8_t code, uint8_t offending_type) {
    dev->tx_body[0] = code;
    dev->tx_body[1] = offending_type;
    send_frame(dev, SENSE_MSG_ERROR, 2);
}

static void send_ack(sense_device *dev, uint8_t acked_type) {
    dev->tx_body[0] = acked_type;
    send_frame(dev, SENSE_MSG_ACK, 1);
}

static uint8_t info_flags(const sense_device *dev) {
    uint8_t flags = 0;
    if (dev->has_key) {
        flags |= SENSE_FLAG_KEY_PROVISIONED;
    }
    if ((dev->has_key || !dev->link_trusted) && !dev->authenticated) {
        flags |= SENSE_FLAG_AUTH_REQUIRED;
    }
    if (dev->authenticated) {
        flags |= SENSE_FLAG_AUTHENTICATED;
    }
    if (dev->link_trusted) {
        flags |= SENSE_FLAG_LINK_TRUSTED;
    }
    return flags;
}

static int control_allowed(const sense_device *dev) {
    return dev->has_key ? dev->authenticated : dev->link_trusted;
}

static void send_info(sense_device *dev) {
    uint8_t *p = dev->tx_body;
    size_t name_len = strlen(dev->desc.name);
    if (name_len > SENSE_NAME_MAX) {
        name_len = SENSE_NAME_MAX;
    }
    *p++ = SENSE_PROTOCOL_VERSION;
    *p++ = SENSE_FW_MAJOR;
    *p++ = SENSE_FW_MINOR;
    *p++ = SENSE_FW_PATCH;
    *p++ = dev->act.n_channels;
    *p++ = info_flags(dev);
    p = put_u16(p, dev->desc.update_rate_hz);
    p = put_u16(p, dev->act.config.watchdog_ms);
    *p++ = SENSE_MAX_FRAME;
    *p++ = (uint8_t)name_len;
    memcpy(p, dev->desc.name, name_len);
    send_frame(dev, SENSE_MSG_INFO, (uint16_t)(p + name_len - dev->tx_body));
}

static void send_challenge(sense_device *dev) {
    sense_sha256 sha;
    uint8_t digest[SENSE_SHA256_BYTES], counters[8], entropy[ENTROPY_BYTES];
    memset(entropy, 0, sizeof(entropy));
    if (dev->io.fill_entropy) {
        dev->io.fill_entropy(dev->io.ctx, entropy, ENTROPY_BYTES);
    }
    dev->challenge_count++;
    put_u32(put_u32(counters, dev->desc.boot_count), dev->challenge_count);
    sense_sha256_init(&sha);
    sense_sha256_update(&sha, dev->key, SENSE_KEY_BYTES);
    sense_sha256_update(&sha, counters, sizeof(counters));
    sense_sha256_update(&sha, entropy, sizeof(entropy));
    sense_sha256_final(&sha, digest);
    memcpy(dev->nonce, digest, SENSE_NONCE_BYTES);
    dev->challenge_pending = 1;
    memcpy(dev->tx_body, dev->nonce, SENSE_NONCE_BYTES);
    send_frame(dev, SENSE_MSG_AUTH_CHALLENGE, SENSE_NONCE_BYTES);
}

static int macs_equal(const uint8_t *a, const uint8_t *b) {
    uint8_t difference = 0, i;
    for (i = 0; i < SENSE_MAC_BYTES; i++) {
        difference |= (uint8_t)(a[i] ^ b[i]); /* constant time */
    }
    return difference == 0;
}

static void handle_auth_response(sense_device *dev, const uint8_t *mac) {
    sense_hmac_sha256 hmac;
    uint8_t expected[SENSE_SHA256_BYTES];
    uint8_t status;
    if (!dev->challenge_pending || !dev->has_key) {
        status = SENSE_AUTH_NO_CHALLENGE;
    } else {
        sense_hmac_sha256_init(&hmac, dev->key, SENSE_KEY_BYTES);
        sense_hmac_sha256_update(&hmac, (const uint8_t *)SENSE_AUTH_LABEL, SENSE_AUTH_LABEL_BYTES);
        sense_hmac_sha256_update(&hmac, dev->nonce, SENSE_NONCE_BYTES);
        sense_hmac_sha256_final(&hmac, expected);
        dev->authenticated = (uint8_t)macs_equal(expected, mac);
        status = dev->authenticated ? SENSE_AUTH_OK : SENSE_AUTH_WRONG_KEY;
        if (!dev->authenticated) {
            dev->counters.auth_failures++;
        }
    }
    dev->challenge_pending = 0; /* one response per challenge */
    dev->tx_body[0] = status;
    send_frame(dev, SENSE_MSG_AUTH_RESULT, 1);
}

static void handle_provision(sense_device *dev, const uint8_t *key) {
    if (!dev->link_trusted) {
        send_error(dev, SENSE_ERR_NOT_ALLOWED, SENSE_MSG_PROVISION_KEY);
        return;
    }
    if (!sense_key_is_valid(key)) {
        send_error(dev, SENSE_ERR_BAD_VALUE, SENSE_MSG_PROVISION_KEY);
        return;
    }
    if (dev->io.store_key && !dev->io.store_key(dev->io.ctx, key)) {
        send_error(dev, SENSE_ERR_STORAGE, SENSE_MSG_PROVISION_KEY);
        return;
    }
    memcpy(dev->key, key, SENSE_KEY_BYTES);
    dev->has_key = 1;
    dev->authenticated = 0; /* the next HELLO must prove the new key */
    dev->challenge_pending = 0;
    send_ack(dev, SENSE_MSG_PROVISION_KEY);
}

static void handle_set(sense_device *dev, const sense_frame *frame) {
    uint16_t values[SENSE_MAX_CHANNELS];
    uint16_t seq = get_u16(frame->body);
    uint8_t n = frame->body[6], ch;
    int16_t step;
    if (n > dev->act.n_channels || frame->body_len < SET_HEADER_BYTES + 2u * n) {
        send_error(dev, SENSE_ERR_BAD_LENGTH, frame->type);
        return;
    }
    step = (int16_t)(uint16_t)(seq - dev->last_seq);
    if (dev->have_seq && step <= 0) {
        dev->counters.stale_frames++;
        return;
    }
    if (dev->have_seq && step > 1) {
        dev->counters.seq_gaps += (uint32_t)(step - 1);
    }
    dev->have_seq = 1;
    dev->last_seq = seq;
    dev->last_t_ms = get_u32(frame->body + 2);
    for (ch = 0; ch < n; ch++) {
        values[ch] = get_u16(frame->body + SET_HEADER_BYTES + 2u * ch);
    }
    sense_actuators_set_targets(&dev->act, values, n, dev->now_ms);
}

static void handle_config(sense_device *dev, const sense_frame *frame) {
    uint16_t caps[SENSE_MAX_CHANNELS];
    const uint8_t *b = frame->body;
    uint8_t n = b[8], ch;
    if (frame->body_len < CONFIG_HEADER_BYTES + 2u * n) {
        send_error(dev, SENSE_ERR_BAD_LENGTH, frame->type);
        return;
    }
    for (ch = 0; ch < n && ch < SENSE_MAX_CHANNELS; ch++) {
        caps[ch] = get_u16(b + CONFIG_HEADER_BYTES + 2u * ch);
    }
    sense_actuators_configure(&dev->act, get_u16(b), get_u16(b + 2), get_u16(b + 4), get_u16(b + 6), caps,
                              ch, dev->now_ms);
    send_ack(dev, SENSE_MSG_CONFIG);
}

static void send_telemetry(sense_device *dev) {
    const sense_counters *c = &dev->counters;
    uint8_t *p = dev->tx_body, ch;
    p = put_u32(p, dev->now_ms - dev->boot_ms);
    p = put_u32(p, c->frames_ok);
    p = put_u32(p, dev->parser.crc_errors);
    p = put_u32(p, dev->parser.framing_errors);
    p = put_u32(p, c->unknown_type);
    p = put_u32(p, c->unauth_refused);
    p = put_u32(p, c->auth_failures);
    p = put_u32(p, dev->act.watchdog_trips);
    p = put_u32(p, c->seq_gaps);
    p = put_u32(p, c->stale_frames);
    p = put_u32(p, dev->act.thermal_limited_ms);
    p = put_u16(p, dev->last_seq);
    p = put_u32(p, dev->last_t_ms);
    *p++ = dev->act.n_channels;
    for (ch = 0; ch < dev->act.n_channels; ch++) {
        p = put_u16(p, dev->act.duty[ch]);
    }
    send_frame(dev, SENSE_MSG_TELEMETRY, (uint16_t)(p - dev->tx_body));
}

/* Minimum body length per known type, 0xFF for unknown types. */
static uint8_t min_body_len(uint8_t type) {
    switch (type) {
    case SENSE_MSG_HELLO: return HELLO_BYTES;
    case SENSE_MSG_AUTH_RESPONSE: return AUTH_RESPONSE_BYTES;
    case SENSE_MSG_PROVISION_KEY: return SENSE_KEY_BYTES;
    case SENSE_MSG_SET_INTENSITIES: return SET_HEADER_BYTES;
    case SENSE_MSG_CONFIG: return CONFIG_HEADER_BYTES;
    case SENSE_MSG_PLAY_EFFECT: return PLAY_EFFECT_BYTES;
    case SENSE_MSG_PING: return PING_BYTES;
    case SENSE_MSG_STOP_ALL:
    case SENSE_MSG_GET_TELEMETRY: return 0;
    default: return 0xFFu;
    }
}

static int is_control(uint8_t type) {
    return type == SENSE_MSG_SET_INTENSITIES || type == SENSE_MSG_CONFIG || type == SENSE_MSG_PLAY_EFFECT;
}

static void handle_frame(sense_device *dev, const sense_frame *frame) {
    const uint8_t *b = frame->body;
    uint8_t min_len = min_body_len(frame->type);
    if (min_len == 0xFFu) {
        dev->counters.unknown_type++;
        send_error(dev, SENSE_ERR_UNKNOWN_TYPE, frame->type);
        return;
    }
    if (frame->body_len < min_len) {
        send_error(dev, SENSE_ERR_BAD_LENGTH, frame->type);
        return;
    }
    if (is_control(frame->type) && !control_allowed(dev)) {
        dev->counters.unauth_refused++;
        send_error(dev, SENSE_ERR_UNAUTHENTICATED, frame->type);
        return;
    }
    dev->counters.frames_ok++;
    switch (frame->type) {
    case SENSE_MSG_HELLO:
        dev->authenticated = 0;
        dev->challenge_pending = 0;
        dev->have_seq = 0; /* a new session: its first SET_INTENSITIES is accepted whatever its seq */
        if (b[0] == 0) {
            send_error(dev, SENSE_ERR_BAD_VERSION, frame->type);
            return;
        }
        send_info(dev);
        if (dev->has_key) {
            send_challenge(dev);
        }
        break;
    case SENSE_MSG_AUTH_RESPONSE:
        handle_auth_response(dev, b);
        break;
    case SENSE_MSG_PROVISION_KEY:
        handle_provision(dev, b);
        break;
    case SENSE_MSG_SET_INTENSITIES:
        handle_set(dev, frame);
        break;
    case SENSE_MSG_CONFIG:
        handle_config(dev, frame);
        break;
    case SENSE_MSG_PLAY_EFFECT:
        if (!sense_actuators_play(&dev->act, b[0], b[1], get_u16(b + 2), get_u16(b + 4), dev->now_ms)) {
            send_error(dev, SENSE_ERR_BAD_VALUE, frame->type);
            return;
        }
        send_ack(dev, SENSE_MSG_PLAY_EFFECT);
        break;
    case SENSE_MSG_STOP_ALL:
        sense_actuators_stop(&dev->act);
        send_ack(dev, SENSE_MSG_STOP_ALL);
        break;
    case SENSE_MSG_PING:
        memcpy(dev->tx_body, b, PING_BYTES);
        put_u32(dev->tx_body + PING_BYTES, dev->now_ms);
        send_frame(dev, SENSE_MSG_PONG, 2 * PING_BYTES);
        break;
    case SENSE_MSG_GET_TELEMETRY:
        send_telemetry(dev);
        break;
    default:
        break;
    }
}

void sense_device_init(sense_device *dev, const sense_board_desc *desc, const sense_board_io *io,
                       const uint8_t *key, uint8_t link_trusted, uint32_t now_ms) {
    memset(dev, 0, sizeof(*dev));
    dev->desc = *desc;
    dev->io = *io;
    dev->boot_ms = dev->now_ms = now_ms;
    if (sense_key_is_valid(key)) {
        memcpy(dev->key, key, SENSE_KEY_BYTES);
        dev->has_key = 1;
    }
    sense_parser_init(&dev->parser);
    sense_actuators_init(&dev->act, desc->n_channels, desc->hard_caps, desc->hard_thermal_limit, now_ms);
    dev->link_trusted = link_trusted;
}

void sense_device_link_reset(sense_device *dev, uint8_t link_trusted) {
    uint32_t crc_errors = dev->parser.crc_errors, framing_errors = dev->parser.framing_errors;
    sense_parser_init(&dev->parser);
    dev->parser.crc_errors = crc_errors;
    dev->parser.framing_errors = framing_errors;
    dev->authenticated = 0;
    dev->challenge_pending = 0;
    dev->link_trusted = link_trusted;
}

void sense_device_feed(sense_device *dev, const uint8_t *bytes, size_t n_bytes, uint32_t now_ms) {
    size_t i;
    sense_frame frame;
    dev->now_ms = now_ms;
    for (i = 0; i < n_bytes; i++) {
        if (sense_parser_feed(&dev->parser, bytes[i], &frame) == SENSE_PARSE_FRAME) {
            handle_frame(dev, &frame);
        }
    }
}

int sense_device_tick(sense_device *dev, uint32_t now_ms) {
    dev->now_ms = now_ms;
    return sense_actuators_tick(&dev->act, now_ms);
}
