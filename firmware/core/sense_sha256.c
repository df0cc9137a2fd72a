#include "sense_sha256.h"

#include <string.h>

#define HMAC_IPAD 0x36u
#define HMAC_OPAD 0x5Cu

static const uint32_t K[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u, 0xab1c5ed5u,
    0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u,
    0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau,
    0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u, 0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u,
    0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u,
    0xa2bfe8a1u, 0xa81a664bu, 0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u,
    0x19a4c116u, 0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u};

static uint32_t rotr(uint32_t x, unsigned n) { return (x >> n) | (x << (32u - n)); }

static void compress(sense_sha256 *sha) {
    uint32_t w[16], v[8], i;
    for (i = 0; i < 16; i++) {
        const uint8_t *p = sha->block + 4 * i;
        w[i] = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
    }
    memcpy(v, sha->state, sizeof(v));
    for (i = 0; i < 64; i++) {
        uint32_t s0, s1, t1, t2, wi;
        if (i < 16) {
            wi = w[i];
        } else {
            uint32_t w15 = w[(i + 1) & 15], w2 = w[(i + 14) & 15];
            s0 = rotr(w15, 7) ^ rotr(w15, 18) ^ (w15 >> 3);
            s1 = rotr(w2, 17) ^ rotr(w2, 19) ^ (w2 >> 10);
            wi = w[i & 15] = w[i & 15] + s0 + w[(i + 9) & 15] + s1;
        }
        s1 = rotr(v[4], 6) ^ rotr(v[4], 11) ^ rotr(v[4], 25);
        t1 = v[7] + s1 + ((v[4] & v[5]) ^ (~v[4] & v[6])) + K[i] + wi;
        s0 = rotr(v[0], 2) ^ rotr(v[0], 13) ^ rotr(v[0], 22);
        t2 = s0 + ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
        memmove(v + 1, v, 7 * sizeof(uint32_t));
        v[4] += t1;
        v[0] = t1 + t2;
    }
    for (i = 0; i < 8; i++) {
        sha->state[i] += v[i];
    }
}

void sense_sha256_init(sense_sha256 *sha) {
    static const uint32_t initial[8] = {0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
                                        0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u};
    memcpy(sha->state, initial, sizeof(initial));
    sha->n_total_bytes = 0;
    sha->n_block_bytes = 0;
}

void sense_sha256_update(sense_sha256 *sha, const uint8_t *data, size_t n_bytes) {
    size_t i;
    for (i = 0; i < n_bytes; i++) {
        sha->block[sha->n_block_bytes++] = data[i];
        if (sha->n_block_bytes == SENSE_SHA256_BLOCK_BYTES) {
            compress(sha);
            sha->n_block_bytes = 0;
        }
    }
    sha->n_total_bytes += (uint32_t)n_bytes;
}

void sense_sha256_final(sense_sha256 *sha, uint8_t digest[SENSE_SHA256_BYTES]) {
    uint32_t n_bits_high = sha->n_total_bytes >> 29, n_bits_low = sha->n_total_bytes << 3;
    unsigned i;
    sha->block[sha->n_block_bytes++] = 0x80u;
    if (sha->n_block_bytes > 56) {
        memset(sha->block + sha->n_block_bytes, 0, SENSE_SHA256_BLOCK_BYTES - sha->n_block_bytes);
        compress(sha);
        sha->n_block_bytes = 0;
    }
    memset(sha->block + sha->n_block_bytes, 0, 56u - sha->n_block_bytes);
    for (i = 0; i < 4; i++) {
        sha->block[56 + i] = (uint8_t)(n_bits_high >> (24 - 8 * i));
        sha->block[60 + i] = (uint8_t)(n_bits_low >> (24 - 8 * i));
    }
    compress(sha);
    for (i = 0; i < 32; i++) {
        digest[i] = (uint8_t)(sha->state[i / 4] >> (24 - 8 * (i % 4)));
    }
}

void sense_hmac_sha256_init(sense_hmac_sha256 *hmac, const uint8_t *key, size_t n_key_bytes) {
    uint8_t block_key[SENSE_SHA256_BLOCK_BYTES];
    unsigned i;
    memset(block_key, 0, sizeof(block_key));
    if (n_key_bytes > SENSE_SHA256_BLOCK_BYTES) {
        sense_sha256_init(&hmac->inner);
        sense_sha256_update(&hmac->inner, key, n_key_bytes);
        sense_sha256_final(&hmac->inner, block_key);
    } else if (n_key_bytes > 0) {
        memcpy(block_key, key, n_key_bytes);
    }
    for (i = 0; i < SENSE_SHA256_BLOCK_BYTES; i++) {
        hmac->outer_key[i] = (uint8_t)(block_key[i] ^ HMAC_OPAD);
        block_key[i] ^= HMAC_IPAD;
    }
    sense_sha256_init(&hmac->inner);
    sense_sha256_update(&hmac->inner, block_key, sizeof(block_key));
}

void sense_hmac_sha256_update(sense_hmac_sha256 *hmac, const uint8_t *data, size_t n_bytes) {
    sense_sha256_update(&hmac->inner, data, n_bytes);
}

void sense_hmac_sha256_final(sense_hmac_sha256 *hmac, uint8_t mac[SENSE_SHA256_BYTES]) {
    uint8_t inner_digest[SENSE_SHA256_BYTES];
    sense_sha256_final(&hmac->inner, inner_digest);
    sense_sha256_init(&hmac->inner);
    sense_sha256_update(&hmac->inner, hmac->outer_key, sizeof(hmac->outer_key));
    sense_sha256_update(&hmac->inner, inner_digest, sizeof(inner_digest));
    sense_sha256_final(&hmac->inner, mac);
}
