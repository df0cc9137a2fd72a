/* libFuzzer target: arbitrary bytes into the frame parser and into a whole device (every message handler),
 * on a trusted and an untrusted link, with and without a key; invariants checked after every input.
 * Build and run: make fuzz FUZZ_SECONDS=10 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sense_device.h"
#include "sense_frame.h"

#define FUZZ_CHANNELS (SENSE_MAX_CHANNELS < 8 ? SENSE_MAX_CHANNELS : 8)
#define FUZZ_THERMAL_LIMIT 50000u

static size_t n_sent;

static void sink(void *ctx, const uint8_t *bytes, uint16_t n) {
    (void)ctx;
    (void)bytes;
    if (n > SENSE_TX_WIRE_MAX) {
        abort(); /* the device must never build a frame larger than its buffer */
    }
    n_sent += n;
}

static int store(void *ctx, const uint8_t key[SENSE_KEY_BYTES]) {
    (void)ctx;
    (void)key;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static sense_device dev;
    static const uint16_t caps[8] = {65535, 1000, 30000, 65535, 0, 65535, 12345, 65535};
    static const uint8_t key[SENSE_KEY_BYTES] = {9, 8, 7, 6, 5, 4, 3, 2, 1};
    sense_board_desc desc = {"fuzz", FUZZ_CHANNELS, 1000, caps, FUZZ_THERMAL_LIMIT, 1};
    sense_board_io io = {NULL, sink, store, NULL};
    sense_parser parser;
    sense_frame frame;
    size_t i;
    uint32_t t = 0;
    uint8_t mode = size > 0 ? data[0] : 0;
    sense_parser_init(&parser);
    for (i = 0; i < size; i++) {
        if (sense_parser_feed(&parser, data[i], &frame) == SENSE_PARSE_FRAME &&
            (frame.body_len + 3u > SENSE_MAX_FRAME || frame.body < parser.buf)) {
            abort();
        }
    }
    sense_device_init(&dev, &desc, &io, (mode & 1) ? key : NULL, (uint8_t)((mode >> 1) & 1), 0);
    for (i = 1; i < size; i += 7) {
        size_t n = size - i < 7 ? size - i : 7;
        uint8_t ch;
        sense_device_feed(&dev, data + i, n, t);
        t += data[i] & 0x1Fu;
        sense_device_tick(&dev, t);
        for (ch = 0; ch < FUZZ_CHANNELS; ch++) {
            if (dev.act.duty[ch] > caps[ch]) {
                abort(); /* a cap was exceeded */
            }
        }
        if (!dev.authenticated && (mode & 1) && dev.act.duty[0] != 0 && dev.has_key && !((mode >> 1) & 1)) {
            /* untrusted link with a key: nothing may move without authentication (the key is not in the input) */
            abort();
        }
    }
    for (t += 151; t < 100000u; t += 1000) {
        uint8_t ch;
        sense_device_tick(&dev, t);
        for (ch = 0; ch < FUZZ_CHANNELS; ch++) {
            if (dev.act.duty[ch] != 0) {
                abort(); /* the watchdog must have zeroed everything */
            }
        }
    }
    return 0;
}
