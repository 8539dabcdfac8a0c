from google.protobuf import timestamp_pb2 as _timestamp_pb2
from epd.v1 import intensity_pb2 as _intensity_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FootprintStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FOOTPRINT_STATUS_UNSPECIFIED: _ClassVar[FootprintStatus]
    FOOTPRINT_STATUS_DRAFT: _ClassVar[FootprintStatus]
    FOOTPRINT_STATUS_PROVISIONAL: _ClassVar[FootprintStatus]
    FOOTPRINT_STATUS_VERIFIED: _ClassVar[FootprintStatus]
    FOOTPRINT_STATUS_PUBLISHED: _ClassVar[FootprintStatus]
    FOOTPRINT_STATUS_DEPRECATED: _ClassVar[FootprintStatus]
    FOOTPRINT_STATUS_WITHDRAWN: _ClassVar[FootprintStatus]
    FOOTPRINT_STATUS_EXPIRED: _ClassVar[FootprintStatus]

class LifeCycleModule(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LIFE_CYCLE_MODULE_UNSPECIFIED: _ClassVar[LifeCycleModule]
    LIFE_CYCLE_MODULE_A1: _ClassVar[LifeCycleModule]
    LIFE_CYCLE_MODULE_A2: _ClassVar[LifeCycleModule]
    LIFE_CYCLE_MODULE_A3: _ClassVar[LifeCycleModule]
    LIFE_CYCLE_MODULE_A1_A3: _ClassVar[LifeCycleModule]

class Indicator(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INDICATOR_UNSPECIFIED: _ClassVar[Indicator]
    INDICATOR_GWP_TOTAL: _ClassVar[Indicator]
    INDICATOR_GWP_FOSSIL: _ClassVar[Indicator]
    INDICATOR_GWP_BIOGENIC: _ClassVar[Indicator]
    INDICATOR_GWP_LULUC: _ClassVar[Indicator]

class FootprintChangeType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FOOTPRINT_CHANGE_TYPE_UNSPECIFIED: _ClassVar[FootprintChangeType]
    FOOTPRINT_CHANGE_TYPE_CREATED: _ClassVar[FootprintChangeType]
    FOOTPRINT_CHANGE_TYPE_VERIFIED: _ClassVar[FootprintChangeType]
    FOOTPRINT_CHANGE_TYPE_PUBLISHED: _ClassVar[FootprintChangeType]
    FOOTPRINT_CHANGE_TYPE_DEPRECATED: _ClassVar[FootprintChangeType]
    FOOTPRINT_CHANGE_TYPE_WITHDRAWN: _ClassVar[FootprintChangeType]
    FOOTPRINT_CHANGE_TYPE_EXPIRED: _ClassVar[FootprintChangeType]
    FOOTPRINT_CHANGE_TYPE_REJECTED: _ClassVar[FootprintChangeType]
    FOOTPRINT_CHANGE_TYPE_SUCCESSOR_CHANGED: _ClassVar[FootprintChangeType]
FOOTPRINT_STATUS_UNSPECIFIED: FootprintStatus
FOOTPRINT_STATUS_DRAFT: FootprintStatus
FOOTPRINT_STATUS_PROVISIONAL: FootprintStatus
FOOTPRINT_STATUS_VERIFIED: FootprintStatus
FOOTPRINT_STATUS_PUBLISHED: FootprintStatus
FOOTPRINT_STATUS_DEPRECATED: FootprintStatus
FOOTPRINT_STATUS_WITHDRAWN: FootprintStatus
FOOTPRINT_STATUS_EXPIRED: FootprintStatus
LIFE_CYCLE_MODULE_UNSPECIFIED: LifeCycleModule
LIFE_CYCLE_MODULE_A1: LifeCycleModule
LIFE_CYCLE_MODULE_A2: LifeCycleModule
LIFE_CYCLE_MODULE_A3: LifeCycleModule
LIFE_CYCLE_MODULE_A1_A3: LifeCycleModule
INDICATOR_UNSPECIFIED: Indicator
INDICATOR_GWP_TOTAL: Indicator
INDICATOR_GWP_FOSSIL: Indicator
INDICATOR_GWP_BIOGENIC: Indicator
INDICATOR_GWP_LULUC: Indicator
FOOTPRINT_CHANGE_TYPE_UNSPECIFIED: FootprintChangeType
FOOTPRINT_CHANGE_TYPE_CREATED: FootprintChangeType
FOOTPRINT_CHANGE_TYPE_VERIFIED: FootprintChangeType
FOOTPRINT_CHANGE_TYPE_PUBLISHED: FootprintChangeType
FOOTPRINT_CHANGE_TYPE_DEPRECATED: FootprintChangeType
FOOTPRINT_CHANGE_TYPE_WITHDRAWN: FootprintChangeType
FOOTPRINT_CHANGE_TYPE_EXPIRED: FootprintChangeType
FOOTPRINT_CHANGE_TYPE_REJECTED: FootprintChangeType
FOOTPRINT_CHANGE_TYPE_SUCCESSOR_CHANGED: FootprintChangeType

class ModuleResult(_message.Message):
    __slots__ = ("module", "indicator", "value", "unit")
    MODULE_FIELD_NUMBER: _ClassVar[int]
    INDICATOR_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    module: LifeCycleModule
    indicator: Indicator
    value: str
    unit: str
    def __init__(self, module: _Optional[_Union[LifeCycleModule, str]] = ..., indicator: _Optional[_Union[Indicator, str]] = ..., value: _Optional[str] = ..., unit: _Optional[str] = ...) -> None: ...

class ProductCategoryRule(_message.Message):
    __slots__ = ("pcr_id", "version", "name", "operator", "operator_name", "valid_from", "valid_until", "declared_unit_amount", "declared_unit", "modules", "cut_off_rule", "allocation_methods", "gwp_set", "standards")
    PCR_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_NAME_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    DECLARED_UNIT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    DECLARED_UNIT_FIELD_NUMBER: _ClassVar[int]
    MODULES_FIELD_NUMBER: _ClassVar[int]
    CUT_OFF_RULE_FIELD_NUMBER: _ClassVar[int]
    ALLOCATION_METHODS_FIELD_NUMBER: _ClassVar[int]
    GWP_SET_FIELD_NUMBER: _ClassVar[int]
    STANDARDS_FIELD_NUMBER: _ClassVar[int]
    pcr_id: str
    version: str
    name: str
    operator: str
    operator_name: str
    valid_from: _timestamp_pb2.Timestamp
    valid_until: _timestamp_pb2.Timestamp
    declared_unit_amount: str
    declared_unit: str
    modules: _containers.RepeatedScalarFieldContainer[str]
    cut_off_rule: str
    allocation_methods: _containers.RepeatedScalarFieldContainer[str]
    gwp_set: str
    standards: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, pcr_id: _Optional[str] = ..., version: _Optional[str] = ..., name: _Optional[str] = ..., operator: _Optional[str] = ..., operator_name: _Optional[str] = ..., valid_from: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., valid_until: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., declared_unit_amount: _Optional[str] = ..., declared_unit: _Optional[str] = ..., modules: _Optional[_Iterable[str]] = ..., cut_off_rule: _Optional[str] = ..., allocation_methods: _Optional[_Iterable[str]] = ..., gwp_set: _Optional[str] = ..., standards: _Optional[_Iterable[str]] = ...) -> None: ...

class EvidenceLink(_message.Message):
    __slots__ = ("window_id", "revision", "merkle_root")
    WINDOW_ID_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    MERKLE_ROOT_FIELD_NUMBER: _ClassVar[int]
    window_id: str
    revision: int
    merkle_root: str
    def __init__(self, window_id: _Optional[str] = ..., revision: _Optional[int] = ..., merkle_root: _Optional[str] = ...) -> None: ...

class FootprintVersion(_message.Message):
    __slots__ = ("pf_id", "series_id", "product_id", "plant_id", "version", "status", "preceding_pf_ids", "results", "declared_unit", "reference_period_start", "reference_period_end", "factor_set_version", "allocation_basis", "allocation_price_basis", "pcr_id", "pcr_version", "verifier", "programme_operator", "valid_from", "valid_until", "reason", "evidence", "created_at", "registration_number", "product_name", "classifications", "organisation_id", "geography", "organisation_name", "company_ids", "superseding_provisional_pf_id", "pcr", "standards", "gwp_set", "evidence_root", "audit_snapshot")
    PF_ID_FIELD_NUMBER: _ClassVar[int]
    SERIES_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    PLANT_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PRECEDING_PF_IDS_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    DECLARED_UNIT_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    FACTOR_SET_VERSION_FIELD_NUMBER: _ClassVar[int]
    ALLOCATION_BASIS_FIELD_NUMBER: _ClassVar[int]
    ALLOCATION_PRICE_BASIS_FIELD_NUMBER: _ClassVar[int]
    PCR_ID_FIELD_NUMBER: _ClassVar[int]
    PCR_VERSION_FIELD_NUMBER: _ClassVar[int]
    VERIFIER_FIELD_NUMBER: _ClassVar[int]
    PROGRAMME_OPERATOR_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    REGISTRATION_NUMBER_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_NAME_FIELD_NUMBER: _ClassVar[int]
    CLASSIFICATIONS_FIELD_NUMBER: _ClassVar[int]
    ORGANISATION_ID_FIELD_NUMBER: _ClassVar[int]
    GEOGRAPHY_FIELD_NUMBER: _ClassVar[int]
    ORGANISATION_NAME_FIELD_NUMBER: _ClassVar[int]
    COMPANY_IDS_FIELD_NUMBER: _ClassVar[int]
    SUPERSEDING_PROVISIONAL_PF_ID_FIELD_NUMBER: _ClassVar[int]
    PCR_FIELD_NUMBER: _ClassVar[int]
    STANDARDS_FIELD_NUMBER: _ClassVar[int]
    GWP_SET_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_ROOT_FIELD_NUMBER: _ClassVar[int]
    AUDIT_SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    pf_id: str
    series_id: str
    product_id: str
    plant_id: str
    version: int
    status: FootprintStatus
    preceding_pf_ids: _containers.RepeatedScalarFieldContainer[str]
    results: _containers.RepeatedCompositeFieldContainer[ModuleResult]
    declared_unit: str
    reference_period_start: _timestamp_pb2.Timestamp
    reference_period_end: _timestamp_pb2.Timestamp
    factor_set_version: str
    allocation_basis: _intensity_pb2.AllocationBasis
    allocation_price_basis: str
    pcr_id: str
    pcr_version: str
    verifier: str
    programme_operator: str
    valid_from: _timestamp_pb2.Timestamp
    valid_until: _timestamp_pb2.Timestamp
    reason: str
    evidence: _containers.RepeatedCompositeFieldContainer[EvidenceLink]
    created_at: _timestamp_pb2.Timestamp
    registration_number: str
    product_name: str
    classifications: _containers.RepeatedScalarFieldContainer[str]
    organisation_id: str
    geography: str
    organisation_name: str
    company_ids: _containers.RepeatedScalarFieldContainer[str]
    superseding_provisional_pf_id: str
    pcr: ProductCategoryRule
    standards: _containers.RepeatedScalarFieldContainer[str]
    gwp_set: str
    evidence_root: str
    audit_snapshot: str
    def __init__(self, pf_id: _Optional[str] = ..., series_id: _Optional[str] = ..., product_id: _Optional[str] = ..., plant_id: _Optional[str] = ..., version: _Optional[int] = ..., status: _Optional[_Union[FootprintStatus, str]] = ..., preceding_pf_ids: _Optional[_Iterable[str]] = ..., results: _Optional[_Iterable[_Union[ModuleResult, _Mapping]]] = ..., declared_unit: _Optional[str] = ..., reference_period_start: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., reference_period_end: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., factor_set_version: _Optional[str] = ..., allocation_basis: _Optional[_Union[_intensity_pb2.AllocationBasis, str]] = ..., allocation_price_basis: _Optional[str] = ..., pcr_id: _Optional[str] = ..., pcr_version: _Optional[str] = ..., verifier: _Optional[str] = ..., programme_operator: _Optional[str] = ..., valid_from: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., valid_until: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ..., evidence: _Optional[_Iterable[_Union[EvidenceLink, _Mapping]]] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., registration_number: _Optional[str] = ..., product_name: _Optional[str] = ..., classifications: _Optional[_Iterable[str]] = ..., organisation_id: _Optional[str] = ..., geography: _Optional[str] = ..., organisation_name: _Optional[str] = ..., company_ids: _Optional[_Iterable[str]] = ..., superseding_provisional_pf_id: _Optional[str] = ..., pcr: _Optional[_Union[ProductCategoryRule, _Mapping]] = ..., standards: _Optional[_Iterable[str]] = ..., gwp_set: _Optional[str] = ..., evidence_root: _Optional[str] = ..., audit_snapshot: _Optional[str] = ...) -> None: ...

class FootprintChanged(_message.Message):
    __slots__ = ("event_id", "product_id", "pf_id", "version", "change_type", "footprint", "occurred_at", "product_sequence")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    PF_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CHANGE_TYPE_FIELD_NUMBER: _ClassVar[int]
    FOOTPRINT_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    product_id: str
    pf_id: str
    version: int
    change_type: FootprintChangeType
    footprint: FootprintVersion
    occurred_at: _timestamp_pb2.Timestamp
    product_sequence: int
    def __init__(self, event_id: _Optional[str] = ..., product_id: _Optional[str] = ..., pf_id: _Optional[str] = ..., version: _Optional[int] = ..., change_type: _Optional[_Union[FootprintChangeType, str]] = ..., footprint: _Optional[_Union[FootprintVersion, _Mapping]] = ..., occurred_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., product_sequence: _Optional[int] = ...) -> None: ...
