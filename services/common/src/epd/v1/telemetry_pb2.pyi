from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReadingKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    READING_KIND_UNSPECIFIED: _ClassVar[ReadingKind]
    READING_KIND_INTERVAL: _ClassVar[ReadingKind]
    READING_KIND_COUNTER: _ClassVar[ReadingKind]

class ReadingQuality(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    READING_QUALITY_UNSPECIFIED: _ClassVar[ReadingQuality]
    READING_QUALITY_GOOD: _ClassVar[ReadingQuality]
    READING_QUALITY_UNCERTAIN: _ClassVar[ReadingQuality]
    READING_QUALITY_BAD: _ClassVar[ReadingQuality]
    READING_QUALITY_SUBSTITUTED: _ClassVar[ReadingQuality]

class ActivityKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACTIVITY_KIND_UNSPECIFIED: _ClassVar[ActivityKind]
    ACTIVITY_KIND_ELECTRICITY: _ClassVar[ActivityKind]
    ACTIVITY_KIND_FUEL: _ClassVar[ActivityKind]
    ACTIVITY_KIND_STEAM: _ClassVar[ActivityKind]
    ACTIVITY_KIND_REAGENT: _ClassVar[ActivityKind]
    ACTIVITY_KIND_DIRECT_EMISSION: _ClassVar[ActivityKind]
    ACTIVITY_KIND_PRODUCT_OUTPUT: _ClassVar[ActivityKind]

class RejectionReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REJECTION_REASON_UNSPECIFIED: _ClassVar[RejectionReason]
    REJECTION_REASON_BAD_SIGNATURE: _ClassVar[RejectionReason]
    REJECTION_REASON_UNKNOWN_PLANT: _ClassVar[RejectionReason]
    REJECTION_REASON_UNKNOWN_METER: _ClassVar[RejectionReason]
    REJECTION_REASON_UNKNOWN_UNIT: _ClassVar[RejectionReason]
    REJECTION_REASON_INCOMPATIBLE_UNIT: _ClassVar[RejectionReason]
    REJECTION_REASON_NOT_FINITE: _ClassVar[RejectionReason]
    REJECTION_REASON_NEGATIVE_VALUE: _ClassVar[RejectionReason]
    REJECTION_REASON_COUNTER_BACKWARDS: _ClassVar[RejectionReason]
    REJECTION_REASON_FUTURE_TIMESTAMP: _ClassVar[RejectionReason]
    REJECTION_REASON_DUPLICATE: _ClassVar[RejectionReason]
    REJECTION_REASON_OVERSIZED_BATCH: _ClassVar[RejectionReason]
    REJECTION_REASON_MALFORMED: _ClassVar[RejectionReason]
    REJECTION_REASON_TOO_LATE: _ClassVar[RejectionReason]
    REJECTION_REASON_IMPLAUSIBLE_RATE: _ClassVar[RejectionReason]
    REJECTION_REASON_BAD_QUALITY: _ClassVar[RejectionReason]
    REJECTION_REASON_OUT_OF_RANGE: _ClassVar[RejectionReason]
    REJECTION_REASON_KEY_REVOKED: _ClassVar[RejectionReason]
    REJECTION_REASON_KEY_RETIRED: _ClassVar[RejectionReason]
READING_KIND_UNSPECIFIED: ReadingKind
READING_KIND_INTERVAL: ReadingKind
READING_KIND_COUNTER: ReadingKind
READING_QUALITY_UNSPECIFIED: ReadingQuality
READING_QUALITY_GOOD: ReadingQuality
READING_QUALITY_UNCERTAIN: ReadingQuality
READING_QUALITY_BAD: ReadingQuality
READING_QUALITY_SUBSTITUTED: ReadingQuality
ACTIVITY_KIND_UNSPECIFIED: ActivityKind
ACTIVITY_KIND_ELECTRICITY: ActivityKind
ACTIVITY_KIND_FUEL: ActivityKind
ACTIVITY_KIND_STEAM: ActivityKind
ACTIVITY_KIND_REAGENT: ActivityKind
ACTIVITY_KIND_DIRECT_EMISSION: ActivityKind
ACTIVITY_KIND_PRODUCT_OUTPUT: ActivityKind
REJECTION_REASON_UNSPECIFIED: RejectionReason
REJECTION_REASON_BAD_SIGNATURE: RejectionReason
REJECTION_REASON_UNKNOWN_PLANT: RejectionReason
REJECTION_REASON_UNKNOWN_METER: RejectionReason
REJECTION_REASON_UNKNOWN_UNIT: RejectionReason
REJECTION_REASON_INCOMPATIBLE_UNIT: RejectionReason
REJECTION_REASON_NOT_FINITE: RejectionReason
REJECTION_REASON_NEGATIVE_VALUE: RejectionReason
REJECTION_REASON_COUNTER_BACKWARDS: RejectionReason
REJECTION_REASON_FUTURE_TIMESTAMP: RejectionReason
REJECTION_REASON_DUPLICATE: RejectionReason
REJECTION_REASON_OVERSIZED_BATCH: RejectionReason
REJECTION_REASON_MALFORMED: RejectionReason
REJECTION_REASON_TOO_LATE: RejectionReason
REJECTION_REASON_IMPLAUSIBLE_RATE: RejectionReason
REJECTION_REASON_BAD_QUALITY: RejectionReason
REJECTION_REASON_OUT_OF_RANGE: RejectionReason
REJECTION_REASON_KEY_REVOKED: RejectionReason
REJECTION_REASON_KEY_RETIRED: RejectionReason

class RawReading(_message.Message):
    __slots__ = ("meter_id", "observed_at", "value", "unit", "kind", "quality", "source_ref")
    METER_ID_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_AT_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    SOURCE_REF_FIELD_NUMBER: _ClassVar[int]
    meter_id: str
    observed_at: _timestamp_pb2.Timestamp
    value: str
    unit: str
    kind: ReadingKind
    quality: ReadingQuality
    source_ref: str
    def __init__(self, meter_id: _Optional[str] = ..., observed_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., value: _Optional[str] = ..., unit: _Optional[str] = ..., kind: _Optional[_Union[ReadingKind, str]] = ..., quality: _Optional[_Union[ReadingQuality, str]] = ..., source_ref: _Optional[str] = ...) -> None: ...

class TelemetryBatch(_message.Message):
    __slots__ = ("batch_id", "plant_id", "sequence", "created_at", "readings", "connector_version", "stream_id")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    PLANT_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    READINGS_FIELD_NUMBER: _ClassVar[int]
    CONNECTOR_VERSION_FIELD_NUMBER: _ClassVar[int]
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    plant_id: str
    sequence: int
    created_at: _timestamp_pb2.Timestamp
    readings: _containers.RepeatedCompositeFieldContainer[RawReading]
    connector_version: str
    stream_id: str
    def __init__(self, batch_id: _Optional[str] = ..., plant_id: _Optional[str] = ..., sequence: _Optional[int] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., readings: _Optional[_Iterable[_Union[RawReading, _Mapping]]] = ..., connector_version: _Optional[str] = ..., stream_id: _Optional[str] = ...) -> None: ...

class SignedTelemetryBatch(_message.Message):
    __slots__ = ("batch", "signature", "key_id", "plant_id")
    BATCH_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PLANT_ID_FIELD_NUMBER: _ClassVar[int]
    batch: bytes
    signature: bytes
    key_id: str
    plant_id: str
    def __init__(self, batch: _Optional[bytes] = ..., signature: _Optional[bytes] = ..., key_id: _Optional[str] = ..., plant_id: _Optional[str] = ...) -> None: ...

class Reading(_message.Message):
    __slots__ = ("reading_id", "plant_id", "process_id", "meter_id", "activity_kind", "activity", "observed_at", "quantity", "unit", "quality", "batch_id", "reading_hash", "ingested_at", "product_id")
    READING_ID_FIELD_NUMBER: _ClassVar[int]
    PLANT_ID_FIELD_NUMBER: _ClassVar[int]
    PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    METER_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_KIND_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_AT_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    READING_HASH_FIELD_NUMBER: _ClassVar[int]
    INGESTED_AT_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    reading_id: str
    plant_id: str
    process_id: str
    meter_id: str
    activity_kind: ActivityKind
    activity: str
    observed_at: _timestamp_pb2.Timestamp
    quantity: str
    unit: str
    quality: ReadingQuality
    batch_id: str
    reading_hash: str
    ingested_at: _timestamp_pb2.Timestamp
    product_id: str
    def __init__(self, reading_id: _Optional[str] = ..., plant_id: _Optional[str] = ..., process_id: _Optional[str] = ..., meter_id: _Optional[str] = ..., activity_kind: _Optional[_Union[ActivityKind, str]] = ..., activity: _Optional[str] = ..., observed_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., quantity: _Optional[str] = ..., unit: _Optional[str] = ..., quality: _Optional[_Union[ReadingQuality, str]] = ..., batch_id: _Optional[str] = ..., reading_hash: _Optional[str] = ..., ingested_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., product_id: _Optional[str] = ...) -> None: ...

class ReadingBatch(_message.Message):
    __slots__ = ("readings", "plant_id")
    READINGS_FIELD_NUMBER: _ClassVar[int]
    PLANT_ID_FIELD_NUMBER: _ClassVar[int]
    readings: _containers.RepeatedCompositeFieldContainer[Reading]
    plant_id: str
    def __init__(self, readings: _Optional[_Iterable[_Union[Reading, _Mapping]]] = ..., plant_id: _Optional[str] = ...) -> None: ...

class ReadingBatchFrames(_message.Message):
    __slots__ = ("readings", "plant_id")
    READINGS_FIELD_NUMBER: _ClassVar[int]
    PLANT_ID_FIELD_NUMBER: _ClassVar[int]
    readings: _containers.RepeatedScalarFieldContainer[bytes]
    plant_id: str
    def __init__(self, readings: _Optional[_Iterable[bytes]] = ..., plant_id: _Optional[str] = ...) -> None: ...

class RejectedReading(_message.Message):
    __slots__ = ("rejection_id", "reason", "detail", "plant_id", "batch_id", "meter_id", "original_payload", "rejected_at")
    REJECTION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    PLANT_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    METER_ID_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    REJECTED_AT_FIELD_NUMBER: _ClassVar[int]
    rejection_id: str
    reason: RejectionReason
    detail: str
    plant_id: str
    batch_id: str
    meter_id: str
    original_payload: bytes
    rejected_at: _timestamp_pb2.Timestamp
    def __init__(self, rejection_id: _Optional[str] = ..., reason: _Optional[_Union[RejectionReason, str]] = ..., detail: _Optional[str] = ..., plant_id: _Optional[str] = ..., batch_id: _Optional[str] = ..., meter_id: _Optional[str] = ..., original_payload: _Optional[bytes] = ..., rejected_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
