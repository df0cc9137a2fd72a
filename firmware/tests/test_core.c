/* Unit tests of the portable firmware core, run on the host: golden vectors (shared with the Python tests)
 * and device behaviour (auth, smoothing, caps, thermal limit, watchdog, effects, sequence numbers).
 * Usage: test_core VECTORS_DIR. Exit status 0 when every check passes. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_mini.h"
#include "sense_cobs.h"
#include "sense_crc16.h"
#include "sense_device.h"
#include "sense_frame.h"
#include "sense_sha256.h"

#define N_TEST_CHANNELS 6
#define BUF_BYTES 4096

static int n_checks, n_failures;
static const char *vectors_dir;

#define CHECK(cond, ...) check((cond) != 0, __FILE__, __LINE__, __VA_ARGS__)

static void check(int ok, const char *file, int line, const char *fmt, ...) {
    va_list args;
    n_checks++;
    if (ok) {
        return;
    }
    n_failures++;
    fprintf(stderr, "%s:%d: FAIL: ", file, line);
    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);
    fputc('\n', stderr);
}

static json_node *load(const char *name) {
    char path[512];
    json_node *root;
    snprintf(path, sizeof(path), "%s/%s", vectors_dir, name);
    root = json_load(path);
    if (root == NULL) {
        fprintf(stderr, "cannot load %s\n", path);
        exit(2);
    }
    return root;
}

/* ------------------------------------------------------------------------------------------ vectors */

static void test_crc16_vectors(void) {
    json_node *c;
    static uint8_t data[BUF_BYTES];
    for (c = load("crc16.json")->first_child; c; c = c->next) {
        long n = json_hex(c, "data_hex", data, sizeof(data));
        CHECK(sense_crc16(data, (size_t)n) == (uint16_t)json_get(c, "crc")->number, "crc16 of %ld bytes", n);
    }
}

static void test_cobs_vectors(void) {
    json_node *c;
    static uint8_t decoded[BUF_BYTES], encoded[BUF_BYTES], out[BUF_BYTES];
    for (c = load("cobs.json")->first_child; c; c = c->next) {
        long n_dec = json_hex(c, "decoded_hex", decoded, sizeof(decoded));
        long n_enc = json_hex(c, "encoded_hex", encoded, sizeof(encoded));
        size_t n = sense_cobs_encode(decoded, (size_t)n_dec, out);
        CHECK(n == (size_t)n_enc && memcmp(out, encoded, n) == 0, "cobs encode of %ld bytes", n_dec);
        CHECK(sense_cobs_decode(encoded, (size_t)n_enc, out, sizeof(out)) == n_dec &&
                  memcmp(out, decoded, (size_t)n_dec) == 0,
              "cobs decode of %ld bytes", n_enc);
        /* in place */
        memcpy(out, encoded, (size_t)n_enc);
        CHECK(sense_cobs_decode(out, (size_t)n_enc, out, sizeof(out)) == n_dec, "cobs in-place decode");
    }
}

static void test_sha256_vectors(void) {
    json_node *c;
    static uint8_t data[BUF_BYTES], key[256];
    uint8_t expected[32], digest[32];
    for (c = load("sha256.json")->first_child; c; c = c->next) {
        sense_sha256 sha;
        long n = json_hex(c, "data_hex", data, sizeof(data));
        long i;
        json_hex(c, "digest_hex", expected, sizeof(expected));
        sense_sha256_init(&sha);
        for (i = 0; i < n; i += 7) { /* odd chunks exercise block boundaries */
            sense_sha256_update(&sha, data + i, (size_t)(n - i < 7 ? n - i : 7));
        }
        sense_sha256_final(&sha, digest);
        CHECK(memcmp(digest, expected, 32) == 0, "sha256 of %ld bytes", n);
    }
    for (c = load("hmac_sha256.json")->first_child; c; c = c->next) {
        sense_hmac_sha256 hmac;
        long n_key = json_hex(c, "key_hex", key, sizeof(key));
        long n = json_hex(c, "data_hex", data, sizeof(data));
        json_hex(c, "mac_hex", expected, sizeof(expected));
        sense_hmac_sha256_init(&hmac, key, (size_t)n_key);
        sense_hmac_sha256_update(&hmac, data, (size_t)n);
        sense_hmac_sha256_final(&hmac, digest);
        CHECK(memcmp(digest, expected, 32) == 0, "hmac-sha256 with a %ld-byte key", n_key);
    }
}

static void test_frame_vectors(void) {
    json_node *c;
    static uint8_t body[BUF_BYTES], wire[BUF_BYTES], out[BUF_BYTES], scratch[BUF_BYTES];
    for (c = load("frames.json")->first_child; c; c = c->next) {
        const char *name = json_get(c, "name")->string;
        uint8_t type = (uint8_t)json_get(c, "type")->number;
        long n_body = json_hex(c, "body_hex", body, sizeof(body));
        long n_wire = json_hex(c, "wire_hex", wire, sizeof(wire));
        sense_parser parser;
        sense_frame frame;
        long i;
        int n_frames = 0;
        size_t n = sense_frame_encode(type, body, (size_t)n_body, scratch, out);
        CHECK(n == (size_t)n_wire && memcmp(out, wire, n) == 0, "encode frame %s", name);
        sense_parser_init(&parser);
        for (i = 0; i < n_wire; i++) {
            if (sense_parser_feed(&parser, wire[i], &frame) == SENSE_PARSE_FRAME) {
                n_frames++;
                CHECK(frame.type == type && frame.body_len == n_body && memcmp(frame.body, body, (size_t)n_body) == 0,
                      "parse frame %s", name);
            }
        }
        CHECK(n_frames == 1, "frame %s parsed %d times", name, n_frames);
    }
}

static void test_stream_vectors(void) {
    json_node *c;
    static uint8_t stream[BUF_BYTES], expected[BUF_BYTES];
    for (c = load("streams.json")->first_child; c; c = c->next) {
        const char *name = json_get(c, "name")->string;
        long n = json_hex(c, "stream_hex", stream, sizeof(stream)), i;
        json_node *frames = json_get(c, "frames"), *want = frames->first_child;
        sense_parser parser;
        sense_frame frame;
        sense_parser_init(&parser);
        for (i = 0; i < n; i++) {
            if (sense_parser_feed(&parser, stream[i], &frame) == SENSE_PARSE_FRAME) {
                /* compare with the expected frame's decoded bytes: re-encode and compare wire bytes */
                static uint8_t scratch[BUF_BYTES], wire[BUF_BYTES];
                size_t n_wire = sense_frame_encode(frame.type, frame.body, frame.body_len, scratch, wire);
                long n_expected;
                CHECK(want != NULL, "stream %s: unexpected extra frame", name);
                if (want == NULL) {
                    break;
                }
                n_expected = json_hex_string(want->string, expected, sizeof(expected));
                CHECK(n_expected == (long)n_wire && memcmp(expected, wire, n_wire) == 0, "stream %s: frame bytes",
                      name);
                want = want->next;
            }
        }
        CHECK(want == NULL, "stream %s: a frame is missing", name);
        CHECK(parser.crc_errors == (uint32_t)json_get(c, "crc_errors")->number, "stream %s: crc_errors %u", name,
              (unsigned)parser.crc_errors);
        CHECK(parser.framing_errors == (uint32_t)json_get(c, "framing_errors")->number,
              "stream %s: framing_errors %u", name, (unsigned)parser.framing_errors);
    }
}

/* ------------------------------------------------------------------------------------------ device */

typedef struct {
    uint8_t out[BUF_BYTES];
    size_t n_out;
    uint8_t stored_key[SENSE_KEY_BYTES];
    int n_stored;
} fake_board;

typedef struct {
    uint8_t type;
    uint8_t body[256];
    uint16_t body_len;
} captured;

static void board_send(void *ctx, const uint8_t *bytes, uint16_t n) {
    fake_board *board = ctx;
    if (board->n_out + n <= sizeof(board->out)) {
        memcpy(board->out + board->n_out, bytes, n);
        board->n_out += n;
    }
}

static int board_store_key(void *ctx, const uint8_t key[SENSE_KEY_BYTES]) {
    fake_board *board = ctx;
    memcpy(board->stored_key, key, SENSE_KEY_BYTES);
    board->n_stored++;
    return 1;
}

static void board_entropy(void *ctx, uint8_t *buf, uint8_t n) {
    (void)ctx;
    memset(buf, 0x5A, n);
}

static const uint8_t TEST_KEY[SENSE_KEY_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                                  17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const uint16_t HARD_CAPS[N_TEST_CHANNELS] = {65535, 65535, 50000, 65535, 65535, 65535};
#define HARD_THERMAL_LIMIT 40000u

static fake_board board;

static void make_device(sense_device *dev, const uint8_t *key, uint8_t trusted) {
    sense_board_desc desc = {"test", N_TEST_CHANNELS, 1000, HARD_CAPS, HARD_THERMAL_LIMIT, 7};
    sense_board_io io = {&board, board_send, board_store_key, board_entropy};
    memset(&board, 0, sizeof(board));
    sense_device_init(dev, &desc, &io, key, trusted, 0);
}

static void send(sense_device *dev, uint8_t type, const uint8_t *body, size_t n, uint32_t now_ms) {
    uint8_t scratch[300], wire[320];
    size_t n_wire = sense_frame_encode(type, body, n, scratch, wire);
    sense_device_feed(dev, wire, n_wire, now_ms);
}

/* Decode everything the device sent since the last call. */
static int replies(captured *out, int max) {
    sense_parser parser;
    sense_frame frame;
    size_t i;
    int n = 0;
    sense_parser_init(&parser);
    for (i = 0; i < board.n_out; i++) {
        if (sense_parser_feed(&parser, board.out[i], &frame) == SENSE_PARSE_FRAME && n < max) {
            out[n].type = frame.type;
            out[n].body_len = frame.body_len;
            memcpy(out[n].body, frame.body, frame.body_len);
            n++;
        }
    }
    board.n_out = 0;
    return n;
}

static void send_set(sense_device *dev, uint16_t seq, uint16_t value, uint32_t now_ms) {
    uint8_t body[7 + 2 * N_TEST_CHANNELS];
    int ch;
    body[0] = (uint8_t)seq;
    body[1] = (uint8_t)(seq >> 8);
    memset(body + 2, 0, 4);
    body[6] = N_TEST_CHANNELS;
    for (ch = 0; ch < N_TEST_CHANNELS; ch++) {
        body[7 + 2 * ch] = (uint8_t)value;
        body[8 + 2 * ch] = (uint8_t)(value >> 8);
    }
    send(dev, SENSE_MSG_SET_INTENSITIES, body, sizeof(body), now_ms);
}

static void compute_mac(const uint8_t *key, const uint8_t *nonce, uint8_t *mac) {
    sense_hmac_sha256 hmac;
    uint8_t full[32];
    sense_hmac_sha256_init(&hmac, key, SENSE_KEY_BYTES);
    sense_hmac_sha256_update(&hmac, (const uint8_t *)SENSE_AUTH_LABEL, SENSE_AUTH_LABEL_BYTES);
    sense_hmac_sha256_update(&hmac, nonce, SENSE_NONCE_BYTES);
    sense_hmac_sha256_final(&hmac, full);
    memcpy(mac, full, SENSE_MAC_BYTES);
}

/* HELLO -> INFO + CHALLENGE -> RESPONSE(key) -> AUTH_RESULT; returns the status. */
static int authenticate(sense_device *dev, const uint8_t *key, uint32_t now_ms) {
    captured r[4];
    uint8_t hello = 1, mac[SENSE_MAC_BYTES];
    int n;
    send(dev, SENSE_MSG_HELLO, &hello, 1, now_ms);
    n = replies(r, 4);
    CHECK(n == 2 && r[0].type == SENSE_MSG_INFO && r[1].type == SENSE_MSG_AUTH_CHALLENGE, "INFO then CHALLENGE");
    compute_mac(key, r[1].body, mac);
    send(dev, SENSE_MSG_AUTH_RESPONSE, mac, sizeof(mac), now_ms);
    n = replies(r, 4);
    CHECK(n == 1 && r[0].type == SENSE_MSG_AUTH_RESULT, "AUTH_RESULT");
    return r[0].body[0];
}

static void test_auth(void) {
    sense_device dev;
    captured r[4];
    uint8_t hello = 1, first_nonce[SENSE_NONCE_BYTES], mac[SENSE_MAC_BYTES], wrong[SENSE_KEY_BYTES];
    int n;
    make_device(&dev, TEST_KEY, 1);
    /* unauthenticated control is refused and counted */
    send_set(&dev, 0, 30000, 1);
    n = replies(r, 4);
    CHECK(n == 1 && r[0].type == SENSE_MSG_ERROR && r[0].body[0] == SENSE_ERR_UNAUTHENTICATED, "refused SET");
    sense_device_tick(&dev, 50);
    CHECK(dev.act.duty[0] == 0 && dev.counters.unauth_refused == 1, "refused SET changes nothing");
    /* a wrong key fails and is counted */
    memcpy(wrong, TEST_KEY, sizeof(wrong));
    wrong[0] ^= 1;
    CHECK(authenticate(&dev, wrong, 60) == SENSE_AUTH_WRONG_KEY, "wrong key refused");
    CHECK(dev.counters.auth_failures == 1 && !dev.authenticated, "auth failure counted");
    /* the challenge is single-use: a second response without HELLO is refused */
    send(&dev, SENSE_MSG_HELLO, &hello, 1, 70);
    n = replies(r, 4);
    memcpy(first_nonce, r[1].body, SENSE_NONCE_BYTES);
    compute_mac(wrong, first_nonce, mac);
    send(&dev, SENSE_MSG_AUTH_RESPONSE, mac, sizeof(mac), 71);
    replies(r, 4);
    compute_mac(TEST_KEY, first_nonce, mac);
    send(&dev, SENSE_MSG_AUTH_RESPONSE, mac, sizeof(mac), 72);
    n = replies(r, 4);
    CHECK(n == 1 && r[0].body[0] == SENSE_AUTH_NO_CHALLENGE, "challenge is single-use");
    /* the right key works; nonces differ per challenge, so the old response cannot be replayed */
    CHECK(authenticate(&dev, TEST_KEY, 80) == SENSE_AUTH_OK, "right key accepted");
    send(&dev, SENSE_MSG_HELLO, &hello, 1, 90);
    n = replies(r, 4);
    CHECK(memcmp(first_nonce, r[1].body, SENSE_NONCE_BYTES) != 0, "fresh nonce per challenge");
    send(&dev, SENSE_MSG_AUTH_RESPONSE, mac, sizeof(mac), 91); /* replay */
    n = replies(r, 4);
    CHECK(n == 1 && r[0].body[0] == SENSE_AUTH_WRONG_KEY, "replayed response refused");
    CHECK(authenticate(&dev, TEST_KEY, 100) == SENSE_AUTH_OK, "re-authenticated");
    send_set(&dev, 1, 30000, 100);
    CHECK(replies(r, 4) == 0, "authenticated SET accepted silently");
    sense_device_tick(&dev, 200);
    CHECK(dev.act.duty[0] == 30000, "authenticated SET drives the outputs (%u)", dev.act.duty[0]);
    /* STOP_ALL is always accepted, also after a link reset */
    sense_device_link_reset(&dev, 0);
    send(&dev, SENSE_MSG_STOP_ALL, NULL, 0, 201);
    n = replies(r, 4);
    CHECK(n == 1 && r[0].type == SENSE_MSG_ACK, "STOP_ALL unauthenticated");
    sense_device_tick(&dev, 202);
    CHECK(dev.act.duty[0] == 0, "STOP_ALL zeroes");
}

static void test_provisioning(void) {
    sense_device dev;
    captured r[4];
    uint8_t hello = 1;
    int n;
    /* untrusted link (BLE), no key: control refused, provisioning refused */
    make_device(&dev, NULL, 0);
    send(&dev, SENSE_MSG_HELLO, &hello, 1, 0);
    n = replies(r, 4);
    CHECK(n == 1 && r[0].type == SENSE_MSG_INFO && (r[0].body[5] & SENSE_FLAG_AUTH_REQUIRED), "BLE no key: INFO");
    send_set(&dev, 0, 1000, 1);
    n = replies(r, 4);
    CHECK(n == 1 && r[0].body[0] == SENSE_ERR_UNAUTHENTICATED, "BLE without a key refuses control");
    send(&dev, SENSE_MSG_PROVISION_KEY, TEST_KEY, SENSE_KEY_BYTES, 2);
    n = replies(r, 4);
    CHECK(n == 1 && r[0].type == SENSE_MSG_ERROR && r[0].body[0] == SENSE_ERR_NOT_ALLOWED, "no provisioning on BLE");
    CHECK(board.n_stored == 0, "nothing stored");
    /* trusted link (USB), no key: control accepted, provisioning stores the key */
    make_device(&dev, NULL, 1);
    send_set(&dev, 0, 1000, 1);
    CHECK(replies(r, 4) == 0, "USB without a key accepts control");
    send(&dev, SENSE_MSG_PROVISION_KEY, TEST_KEY, SENSE_KEY_BYTES, 2);
    n = replies(r, 4);
    CHECK(n == 1 && r[0].type == SENSE_MSG_ACK && board.n_stored == 1 &&
              memcmp(board.stored_key, TEST_KEY, SENSE_KEY_BYTES) == 0,
          "key provisioned and stored");
    send_set(&dev, 1, 1000, 3);
    n = replies(r, 4);
    CHECK(n == 1 && r[0].body[0] == SENSE_ERR_UNAUTHENTICATED, "after provisioning, auth is required");
    CHECK(authenticate(&dev, TEST_KEY, 4) == SENSE_AUTH_OK, "new key works");
}

static void test_smoothing_caps_and_config(void) {
    sense_device dev;
    captured r[4];
    uint8_t config[9 + 2 * 2] = {0};
    uint32_t t;
    make_device(&dev, NULL, 1);
    send_set(&dev, 0, 60000, 0); /* default smoothing 16 ms */
    sense_device_tick(&dev, 8);
    CHECK(dev.act.duty[0] == 30000, "half way after half the ramp (%u)", dev.act.duty[0]);
    sense_device_tick(&dev, 16);
    CHECK(dev.act.duty[0] == 60000 && dev.act.duty[2] == 50000, "target reached, hard cap on channel 2 (%u)",
          dev.act.duty[2]);
    /* CONFIG: smoothing 0, watchdog 1000 (clamped to 140), thermal 65535 (clamped), caps 20000 / 65535 */
    config[2] = 0xE8;
    config[3] = 0x03;
    config[4] = config[5] = 0xFF;
    config[6] = 0xD0;
    config[7] = 0x07;
    config[8] = 2;
    config[9] = 0x20;
    config[10] = 0x4E; /* 20000 */
    config[11] = config[12] = 0xFF;
    send(&dev, SENSE_MSG_CONFIG, config, sizeof(config), 20);
    CHECK(replies(r, 4) == 1 && r[0].type == SENSE_MSG_ACK, "CONFIG acked");
    CHECK(dev.act.config.watchdog_ms == 140 && dev.act.config.thermal_limit == HARD_THERMAL_LIMIT,
          "CONFIG clamped to hard limits");
    send_set(&dev, 1, 65535, 20);
    sense_device_tick(&dev, 21);
    CHECK(dev.act.duty[0] == 20000 && dev.act.duty[1] == 65535, "caps: %u %u", dev.act.duty[0], dev.act.duty[1]);
    /* the host cannot raise a cap above the firmware's */
    config[9] = config[10] = 0xFF;
    send(&dev, SENSE_MSG_CONFIG, config, sizeof(config), 22);
    replies(r, 4);
    CHECK(dev.act.config.cap[0] == 65535 && dev.act.config.cap[2] == 50000, "caps stay within hard caps");
    for (t = 23; t < 60; t++) {
        sense_device_tick(&dev, t);
    }
}

static void test_thermal_limit(void) {
    sense_device dev;
    uint32_t t;
    int32_t max_avg = 0;
    make_device(&dev, NULL, 1);
    for (t = 0; t <= 20000; t++) {
        if (t % 50 == 0) {
            send_set(&dev, (uint16_t)(t / 50), 65535, t);
        }
        sense_device_tick(&dev, t);
        if (t > 1000 && dev.act.thermal_avg_q8[0] > max_avg) {
            max_avg = dev.act.thermal_avg_q8[0];
        }
    }
    CHECK(dev.act.duty[0] <= HARD_THERMAL_LIMIT, "duty held at the thermal limit (%u)", dev.act.duty[0]);
    CHECK(max_avg <= (int32_t)(HARD_THERMAL_LIMIT + 700) << 8, "average duty stays at the limit (%ld)",
          (long)(max_avg >> 8));
    CHECK(dev.act.thermal_limited_ms > 10000, "thermal limiting counted (%lu ms)",
          (unsigned long)dev.act.thermal_limited_ms);
    /* the average is a real average: it needs time to rise */
    make_device(&dev, NULL, 1);
    send_set(&dev, 0, 65535, 0);
    for (t = 0; t <= 100; t++) {
        sense_device_tick(&dev, t);
    }
    CHECK(dev.act.duty[0] == 65535, "short bursts above the limit are allowed");
}

static void test_watchdog(void) {
    sense_device dev;
    uint32_t t, zero_at = 0;
    make_device(&dev, NULL, 1);
    send_set(&dev, 0, 40000, 1000);
    for (t = 1000; t < 1400; t++) {
        sense_device_tick(&dev, t);
        if (zero_at == 0 && t > 1020 && dev.act.duty[0] == 0) {
            zero_at = t;
        }
    }
    CHECK(zero_at > 1000 && zero_at - 1000 <= 150, "zero %lu ms after the last frame", (unsigned long)(zero_at - 1000));
    CHECK(zero_at - 1000 > 100, "not before the watchdog timeout (%lu)", (unsigned long)(zero_at - 1000));
    CHECK(dev.act.watchdog_trips == 1, "one trip counted (%lu)", (unsigned long)dev.act.watchdog_trips);
    /* with coarse 10 ms ticks it still holds */
    make_device(&dev, NULL, 1);
    send_set(&dev, 0, 40000, 5);
    zero_at = 0;
    for (t = 0; t < 400; t += 10) {
        sense_device_tick(&dev, t);
        if (zero_at == 0 && t > 20 && dev.act.duty[0] == 0) {
            zero_at = t;
        }
    }
    CHECK(zero_at - 5 <= 150, "coarse ticks: zero %lu ms after the last frame", (unsigned long)(zero_at - 5));
}

static void test_sequence_and_effects(void) {
    sense_device dev;
    captured r[4];
    uint8_t effect[6] = {1, SENSE_EFFECT_CLICK, 0x40, 0x9C, 0xE8, 0x03}; /* ch1, click, 40000, 1000 ms */
    uint8_t bad_effect[6] = {9, SENSE_EFFECT_CLICK, 0, 1, 1, 0};
    uint8_t ping[4] = {0xEF, 0xBE, 0xAD, 0xDE}, unknown = 0;
    int n;
    make_device(&dev, NULL, 1);
    send_set(&dev, 10, 100, 0);
    send_set(&dev, 13, 200, 1); /* 11 and 12 lost */
    send_set(&dev, 12, 300, 2); /* stale */
    CHECK(dev.counters.seq_gaps == 2 && dev.counters.stale_frames == 1 && dev.last_seq == 13,
          "gaps %lu stale %lu", (unsigned long)dev.counters.seq_gaps, (unsigned long)dev.counters.stale_frames);
    { /* a HELLO starts a new session: a host that restarts at seq 0 is not stale */
        uint8_t hello = 1;
        uint32_t stale_before = dev.counters.stale_frames;
        send(&dev, SENSE_MSG_HELLO, &hello, 1, 2);
        replies(r, 4);
        send_set(&dev, 0, 500, 2);
        CHECK(dev.counters.stale_frames == stale_before && dev.last_seq == 0, "seq 0 after HELLO accepted (stale %lu)",
              (unsigned long)dev.counters.stale_frames);
        send_set(&dev, 0, 600, 2);
        CHECK(dev.counters.stale_frames == stale_before + 1, "a repeated seq in the new session is stale");
        send_set(&dev, 13, 700, 3); /* back to the numbering of the lines below */
    }
    send_set(&dev, 14, 0, 3);
    send(&dev, SENSE_MSG_PLAY_EFFECT, effect, sizeof(effect), 10);
    n = replies(r, 4);
    CHECK(n == 1 && r[0].type == SENSE_MSG_ACK, "effect acked");
    sense_device_tick(&dev, 20);
    CHECK(dev.act.duty[1] == 40000 && dev.act.duty[0] == 0, "click on (%u)", dev.act.duty[1]);
    sense_device_tick(&dev, 45);
    CHECK(dev.act.duty[1] == 0, "click over after 30 ms (%u)", dev.act.duty[1]);
    { /* ramp up over 100 ms on all channels, then a pulse train on channel 2 */
        uint8_t ramp[6] = {SENSE_ALL_CHANNELS, SENSE_EFFECT_RAMP_UP, 0xE8, 0xFD, 100, 0}; /* 65000 */
        uint8_t pulse[6] = {2, SENSE_EFFECT_PULSE, 0x10, 0x27, 0xF4, 0x01};               /* 10000, 500 ms */
        send_set(&dev, 15, 0, 46); /* keep the watchdog fed */
        send(&dev, SENSE_MSG_PLAY_EFFECT, ramp, sizeof(ramp), 46);
        replies(r, 4);
        sense_device_tick(&dev, 96);
        CHECK(dev.act.duty[0] == 32500 && dev.act.duty[5] == 32500, "ramp half way (%u)", dev.act.duty[0]);
        sense_device_tick(&dev, 146);
        CHECK(dev.act.duty[0] == 0, "ramp over (%u)", dev.act.duty[0]);
        send(&dev, SENSE_MSG_PLAY_EFFECT, pulse, sizeof(pulse), 146);
        replies(r, 4);
        sense_device_tick(&dev, 170);
        CHECK(dev.act.duty[2] == 10000, "pulse on (%u)", dev.act.duty[2]);
        sense_device_tick(&dev, 210);
        CHECK(dev.act.duty[2] == 0, "pulse off in its second half period (%u)", dev.act.duty[2]);
        send_set(&dev, 16, 0, 240); /* effects too stop with the watchdog: keep streaming */
        sense_device_tick(&dev, 250);
        CHECK(dev.act.duty[2] == 10000, "pulse on again (%u)", dev.act.duty[2]);
    }
    send(&dev, SENSE_MSG_PLAY_EFFECT, bad_effect, sizeof(bad_effect), 46);
    n = replies(r, 4);
    CHECK(n == 1 && r[0].type == SENSE_MSG_ERROR && r[0].body[0] == SENSE_ERR_BAD_VALUE, "bad channel refused");
    send(&dev, SENSE_MSG_PING, ping, sizeof(ping), 1234);
    n = replies(r, 4);
    CHECK(n == 1 && r[0].type == SENSE_MSG_PONG && memcmp(r[0].body, ping, 4) == 0 && r[0].body[4] == 0xD2 &&
              r[0].body[5] == 0x04,
          "PONG echoes the token and the device time");
    send(&dev, 0x55, &unknown, 1, 1235);
    n = replies(r, 4);
    CHECK(n == 1 && r[0].type == SENSE_MSG_ERROR && r[0].body[0] == SENSE_ERR_UNKNOWN_TYPE && r[0].body[1] == 0x55,
          "unknown type answered");
    send(&dev, SENSE_MSG_PING, ping, 2, 1236);
    n = replies(r, 4);
    CHECK(n == 1 && r[0].body[0] == SENSE_ERR_BAD_LENGTH, "short body refused");
    send(&dev, SENSE_MSG_GET_TELEMETRY, NULL, 0, 1237);
    n = replies(r, 4);
    CHECK(n == 1 && r[0].type == SENSE_MSG_TELEMETRY && r[0].body_len == SENSE_TELEMETRY_FIXED_BYTES + 2 * N_TEST_CHANNELS,
          "telemetry length %u", r[0].body_len);
    CHECK(r[0].body[16] == 1, "unknown_type counter in telemetry");
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s VECTORS_DIR\n", argv[0]);
        return 2;
    }
    vectors_dir = argv[1];
    test_crc16_vectors();
    test_cobs_vectors();
    test_sha256_vectors();
    test_frame_vectors();
    test_stream_vectors();
    test_auth();
    test_provisioning();
    test_smoothing_caps_and_config();
    test_thermal_limit();
    test_watchdog();
    test_sequence_and_effects();
    printf("%d checks, %d failures\n", n_checks, n_failures);
    return n_failures == 0 ? 0 : 1;
}
