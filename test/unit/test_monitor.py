"""core.monitor: counts, timings and the level/message of a node's health report."""

from __future__ import annotations

from glass_perception.core import messages
from glass_perception.core.monitor import ERROR, OK, StageMonitor, WARN


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_report_counts_rates_and_latency_percentiles():
    clock = Clock()
    m = StageMonitor('camera/image_raw', stale_after_s=5.0, clock=clock)
    for i in range(20):
        m.count('received')
        m.count('processed')
        m.timing(0.010 + i * 0.001, 0.050 + i * 0.001)
    clock.t += 2.0
    r = m.report()
    v = dict(r.values)
    assert r.level == OK and r.message.startswith('10.0 Hz')
    assert v['received'] == v['processed'] == '20'
    assert v['processed_hz'] == '10.00'
    assert float(v['processing_ms_p50']) == 19.5 and float(v['processing_ms_max']) == 29.0
    assert float(v['latency_ms_p95']) > float(v['latency_ms_p50']) > 50.0
    # the next report covers only what happened since this one
    clock.t += 1.0
    v2 = dict(m.report().values)
    assert (
        v2['processed'] == '20' and v2['processed_hz'] == '0.00' and 'processing_ms_p50' not in v2
    )


def test_levels_name_what_is_wrong():
    clock = Clock()
    m = StageMonitor('glass/candidates', stale_after_s=2.0, clock=clock)
    r = m.report()
    assert r.level == OK and 'waiting for glass/candidates' in r.message
    clock.t += 3.0
    r = m.report()
    assert r.level == WARN and 'no input on glass/candidates for 3.0 s' in r.message
    m.set_count('received', 10)
    m.set_count('dropped', 4)
    m.count('rejected', 2)
    r = m.report()
    assert r.level == WARN and '2 malformed' in r.message and 'dropping 40%' in r.message
    m.count('errors')
    assert m.report().level == ERROR
    m.fault('source lost: device gone; reopening')
    r = m.report()
    assert r.level == ERROR and 'source lost' in r.message
    m.fault('')
    m.count('received')
    m.count('processed')
    assert m.report().level == OK
    m.warn('12 of 20 frames (60%) since the last report had no depth image')
    m.count('received')
    m.count('processed')
    r = m.report()
    assert r.level == WARN and '60%' in r.message
    m.count('received')
    m.count('processed')
    assert m.report().level == OK  # a warning is for one report: the node checks each period


def test_report_becomes_a_diagnostic_array():
    m = StageMonitor('x')
    m.count('received')
    arr = messages.diagnostic_array(
        messages.Header(frame_id=''),
        'glass_perception: /detector_node',
        'cpu',
        m.report({'crops_sent': '3'}),
    )
    st = arr.status[0]
    assert st.level == b'\x00' and st.name.endswith('/detector_node') and st.hardware_id == 'cpu'
    assert {kv.key: kv.value for kv in st.values}['crops_sent'] == '3'
