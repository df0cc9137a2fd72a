/* The `esp32` board: a wireless SENSE vest on an ESP32 with the Arduino-ESP32 core (2.x or 3.x).
 *
 * A thin adapter around the tested portable core (firmware/core, copied next to this file by
 * ../make_sketch.sh): it moves bytes between two links and the core, ticks the core at 1 kHz and copies
 * dev.act.duty[] to the LEDC PWM channels. All protocol, authentication, smoothing, caps, thermal limit and the
 * watchdog live in the core; nothing of that is re-implemented here.
 *
 * Links (firmware/PROTOCOL.md section 4):
 *   - BLE: one GATT characteristic (write / write-without-response + notify) in the SENSE service; untrusted,
 *     so control needs the challenge-response with the provisioned key, and PROVISION_KEY is refused.
 *   - USB serial (Serial, 500000 baud): trusted, for provisioning the key (`sense flash --provision-key`) and
 *     bench tests. Whichever link last delivered bytes (or connected) owns the session; switching links, a BLE
 *     connect and a BLE disconnect all call sense_device_link_reset() (authentication is forgotten).
 * Failsafe: a BLE disconnect zeroes every output at once (sense_actuators_stop); the core's watchdog zeroes them
 * <= 150 ms after the last frame in every other case.
 *
 * Build-time settings (-D on the build command line, never edits here): SENSE_BLE_NAME, SENSE_ESP32_PINS
 * (comma-separated GPIOs, one per channel), SENSE_MAX_CHANNELS. See ../README.md. This file is NOT compiled in
 * this repository's CI (no ESP32 toolchain here). */
#include <Arduino.h>
#include <BLE2902.h>
#include <BLEDevice.h>
#include <BLEServer.h>
#include <BLEUtils.h>
#include <Preferences.h>
#if ESP_ARDUINO_VERSION_MAJOR >= 3
#include <esp_random.h>
#else
#include <esp_system.h>
#endif
#include <freertos/FreeRTOS.h>
#include <freertos/stream_buffer.h>

extern "C" {
#include "sense_device.h"
}

#ifndef SENSE_BLE_NAME
#define SENSE_BLE_NAME "SENSE-VEST"
#endif
#ifndef SENSE_ESP32_PINS
#define SENSE_ESP32_PINS 25, 26, 27, 14, 12, 13, 32, 33
#endif
/* Must equal edge/link/ble.py SENSE_SERVICE_UUID / SENSE_LINK_CHAR_UUID (ASCII "SENSE" "Link"). */
#define SENSE_SERVICE_UUID "53454e53-4500-4c69-6e6b-000000000000"
#define SENSE_LINK_CHAR_UUID "53454e53-4500-4c69-6e6b-000000000001"

#define USB_BAUD 500000 /* the host's default (edge.link.transports.DEFAULT_BAUD) */
#define UPDATE_RATE_HZ 1000u
#define HARD_THERMAL_LIMIT 52000u /* ~80 % running-average duty */
#define PWM_FREQ_HZ 25000u        /* above hearing; 80 MHz / 25 kHz leaves 11 bits */
#define PWM_RESOLUTION_BITS 10u
#define BLE_LOCAL_MTU 247u
#define ATT_HEADER_BYTES 3u
#define ATT_DEFAULT_MTU 23u
#define RX_BUFFER_BYTES 1024u
#define RX_CHUNK_BYTES 64u

static const uint8_t PINS[] = {SENSE_ESP32_PINS};
static const uint8_t N_CHANNELS = sizeof(PINS) / sizeof(PINS[0]);
static_assert(sizeof(PINS) <= SENSE_MAX_CHANNELS, "more SENSE_ESP32_PINS than SENSE_MAX_CHANNELS");

enum link_id { LINK_NONE, LINK_USB, LINK_BLE };

typedef struct {
    BLECharacteristic *characteristic;
    volatile bool ble_connected;
    volatile uint16_t ble_payload_bytes; /* negotiated ATT MTU - 3 */
    volatile bool ble_changed;           /* connect/disconnect seen by the BLE task, handled in loop() */
    enum link_id active;
    StreamBufferHandle_t ble_rx; /* BLE task -> loop(): the core is only ever called from loop() */
    Preferences prefs;
} esp32_board;

static esp32_board board;
static sense_device dev;

/* ---------------------------------------------------------------------------------------------- core I/O */
static void board_send(void *ctx, const uint8_t *bytes, uint16_t n) {
    esp32_board *b = (esp32_board *)ctx;
    if (b->active == LINK_USB) {
        Serial.write(bytes, n);
    } else if (b->active == LINK_BLE && b->ble_connected) {
        uint16_t chunk = b->ble_payload_bytes;
        for (uint16_t start = 0; start < n; start += chunk) { /* notifications of at most MTU - 3 bytes */
            uint16_t len = (uint16_t)((n - start) < chunk ? (n - start) : chunk);
            b->characteristic->setValue((uint8_t *)bytes + start, len);
            b->characteristic->notify();
        }
    }
}

static int board_store_key(void *ctx, const uint8_t key[SENSE_KEY_BYTES]) {
    esp32_board *b = (esp32_board *)ctx;
    uint8_t check[SENSE_KEY_BYTES];
    if (b->prefs.putBytes("key", key, SENSE_KEY_BYTES) != SENSE_KEY_BYTES) {
        return 0;
    }
    return b->prefs.getBytes("key", check, SENSE_KEY_BYTES) == SENSE_KEY_BYTES &&
           memcmp(check, key, SENSE_KEY_BYTES) == 0;
}

static void board_entropy(void *ctx, uint8_t *buf, uint8_t n) {
    (void)ctx;
    esp_fill_random(buf, n); /* hardware RNG; true random while the radio is on */
}

static void use_link(enum link_id link) {
    if (board.active != link) {
        board.active = link;
        sense_device_link_reset(&dev, link == LINK_USB ? 1u : 0u);
    }
}

/* ---------------------------------------------------------------------------------------------- BLE */
class LinkServerCallbacks : public BLEServerCallbacks {
    void onConnect(BLEServer *server, esp_ble_gatts_cb_param_t *param) override {
        uint16_t mtu = server->getPeerMTU(param->connect.conn_id);
        board.ble_payload_bytes = (uint16_t)((mtu > ATT_DEFAULT_MTU ? mtu : ATT_DEFAULT_MTU) - ATT_HEADER_BYTES);
        board.ble_connected = true;
        board.ble_changed = true;
    }
    void onDisconnect(BLEServer *server) override {
        (void)server;
        board.ble_connected = false;
        board.ble_changed = true;
    }
    void onMtuChanged(BLEServer *server, esp_ble_gatts_cb_param_t *param) override {
        (void)server;
        board.ble_payload_bytes = (uint16_t)(param->mtu.mtu - ATT_HEADER_BYTES);
    }
};

class LinkCharacteristicCallbacks : public BLECharacteristicCallbacks {
    void onWrite(BLECharacteristic *characteristic) override {
        /* Runs in the Bluetooth task: only queue the bytes; if the buffer is full they are lost and the CRC
         * drops the damaged frame (the host resends every frame anyway). */
        xStreamBufferSend(board.ble_rx, characteristic->getData(), characteristic->getLength(), 0);
    }
};

static void ble_begin(void) {
    BLEDevice::init(SENSE_BLE_NAME);
    BLEDevice::setMTU(BLE_LOCAL_MTU);
    BLEServer *server = BLEDevice::createServer();
    server->setCallbacks(new LinkServerCallbacks());
    BLEService *service = server->createService(SENSE_SERVICE_UUID);
    board.characteristic = service->createCharacteristic(
        SENSE_LINK_CHAR_UUID, BLECharacteristic::PROPERTY_WRITE | BLECharacteristic::PROPERTY_WRITE_NR |
                                  BLECharacteristic::PROPERTY_NOTIFY);
    board.characteristic->addDescriptor(new BLE2902());
    board.characteristic->setCallbacks(new LinkCharacteristicCallbacks());
    service->start();
    BLEAdvertising *advertising = BLEDevice::getAdvertising();
    advertising->addServiceUUID(SENSE_SERVICE_UUID);
    advertising->setScanResponse(true);
    BLEDevice::startAdvertising();
}

static void ble_poll(uint32_t now) {
    uint8_t chunk[RX_CHUNK_BYTES];
    size_t n;
    if (board.ble_changed) {
        board.ble_changed = false;
        if (board.ble_connected) {
            board.active = LINK_NONE; /* force a reset even if BLE was the last link */
            use_link(LINK_BLE);
        } else {
            sense_actuators_stop(&dev.act); /* the central is gone: zero now, not after the watchdog */
            if (board.active == LINK_BLE) {
                sense_device_link_reset(&dev, 0u);
            }
            xStreamBufferReset(board.ble_rx);
            BLEDevice::startAdvertising();
        }
    }
    while ((n = xStreamBufferReceive(board.ble_rx, chunk, sizeof(chunk), 0)) > 0) {
        use_link(LINK_BLE);
        sense_device_feed(&dev, chunk, n, now);
    }
}

/* ---------------------------------------------------------------------------------------------- PWM */
static void pwm_begin(void) {
    for (uint8_t ch = 0; ch < N_CHANNELS; ch++) {
#if ESP_ARDUINO_VERSION_MAJOR >= 3
        ledcAttach(PINS[ch], PWM_FREQ_HZ, PWM_RESOLUTION_BITS);
        ledcWrite(PINS[ch], 0);
#else
        ledcSetup(ch, PWM_FREQ_HZ, PWM_RESOLUTION_BITS);
        ledcAttachPin(PINS[ch], ch);
        ledcWrite(ch, 0);
#endif
    }
}

static void pwm_write(const uint16_t *duty) {
    for (uint8_t ch = 0; ch < N_CHANNELS; ch++) {
        uint32_t value = (uint32_t)duty[ch] >> (16u - PWM_RESOLUTION_BITS); /* u16 full scale -> LEDC bits */
#if ESP_ARDUINO_VERSION_MAJOR >= 3
        ledcWrite(PINS[ch], value);
#else
        ledcWrite(ch, value);
#endif
    }
}

/* ---------------------------------------------------------------------------------------------- main */
void setup() {
    static sense_board_desc desc = {"esp32", N_CHANNELS, UPDATE_RATE_HZ, NULL, HARD_THERMAL_LIMIT, 0};
    static const sense_board_io io = {&board, board_send, board_store_key, board_entropy};
    uint8_t key[SENSE_KEY_BYTES];
    int have_key;

    pwm_begin(); /* outputs at zero before anything else */
    Serial.begin(USB_BAUD);
    board.ble_payload_bytes = ATT_DEFAULT_MTU - ATT_HEADER_BYTES;
    board.active = LINK_NONE;
    board.ble_rx = xStreamBufferCreate(RX_BUFFER_BYTES, 1);
    board.prefs.begin("sense", false);
    desc.boot_count = board.prefs.getUInt("boot", 0) + 1u;
    board.prefs.putUInt("boot", desc.boot_count);
    have_key = board.prefs.getBytes("key", key, SENSE_KEY_BYTES) == SENSE_KEY_BYTES;
    sense_device_init(&dev, &desc, &io, have_key ? key : NULL, 0u, millis());
    ble_begin();
}

void loop() {
    static uint32_t last_tick;
    uint8_t chunk[RX_CHUNK_BYTES];
    uint32_t now = millis();
    int n;

    ble_poll(now);
    while ((n = Serial.available()) > 0) {
        n = Serial.readBytes(chunk, n < (int)sizeof(chunk) ? n : (int)sizeof(chunk));
        use_link(LINK_USB);
        sense_device_feed(&dev, chunk, (size_t)n, now);
    }
    if (now != last_tick) {
        last_tick = now;
        if (sense_device_tick(&dev, now)) {
            pwm_write(dev.act.duty);
        }
    }
}
