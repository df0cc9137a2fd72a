#include "sense_cobs.h"

#define COBS_MAX_CODE 0xFFu

size_t sense_cobs_encode(const uint8_t *in, size_t n, uint8_t *out) {
    size_t code_at = 0, write = 1, i;
    uint8_t code = 1;
    for (i = 0; i < n; i++) {
        if (in[i] != 0) {
            out[write++] = in[i];
            code++;
        }
        if (in[i] == 0 || code == COBS_MAX_CODE) {
            out[code_at] = code;
            code = 1;
            if (in[i] != 0 && i == n - 1) {
                return write; /* a full group ends the input: no new group */
            }
            code_at = write++;
        }
    }
    out[code_at] = code;
    return write;
}

long sense_cobs_decode(const uint8_t *in, size_t n, uint8_t *out, size_t out_capacity) {
    size_t read = 0, write = 0;
    while (read < n) {
        uint8_t code = in[read++];
        uint8_t k;
        if (code == 0 || read + (size_t)code - 1u > n) {
            return -1;
        }
        for (k = 1; k < code; k++) {
            uint8_t byte = in[read++];
            if (byte == 0 || write >= out_capacity) {
                return -1;
            }
            out[write++] = byte;
        }
        if (code != COBS_MAX_CODE && read < n) {
            if (write >= out_capacity) {
                return -1;
            }
            out[write++] = 0;
        }
    }
    return (long)write;
}
