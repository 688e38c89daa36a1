"""Issuing departments."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from api.auth import CaOperator, Reader
from api.deps import DeploymentDep, Now, SessionDep
from api.schemas import DepartmentIn, DepartmentOut
from signing.departments import add_department
from trust.registry.models import Department, KeyRecord

router = APIRouter(prefix="/v1/departments", tags=["departments"])


@router.get("", operation_id="departments_list")
def list_departments(_: Reader, session: SessionDep) -> list[DepartmentOut]:
    """All departments with their key URIs."""
    out = []
    for d in session.execute(select(Department).order_by(Department.code)).scalars():
        keys = session.execute(select(KeyRecord.uri).where(
            KeyRecord.department_code == d.code)).scalars().all()
        out.append(DepartmentOut(code=d.code, name=d.name, uscc=d.uscc, region=d.region,
                                 keys=list(keys)))
    return out


@router.post("", status_code=201, operation_id="departments_add")
def create_department(body: DepartmentIn, principal: CaOperator, deployment: DeploymentDep,
                      session: SessionDep, now: Now) -> DepartmentOut:
    """Register a department and certify new signing keys (CA operators only).

    Not seal administrators: a department's certificates are what its seals
    list, so a seal administrator who could make departments could certify a
    key of their own choosing and seal with it.
    """
    result = add_department(session, deployment.stores, deployment.home.pin(), code=body.code,
                            name=body.name, uscc=body.uscc, region=body.region,
                            roots=deployment.roots(), algorithms=body.algorithms, at=now,
                            actor=principal.client_id)
    return DepartmentOut(code=result.code, name=body.name, uscc=body.uscc, region=body.region,
                         keys=list(result.keys.values()))
