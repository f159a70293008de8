export function ConnectorIcon({ id, size = 40 }: { id: string; size?: number }) {
  return (
    <img
      className="connector-icon"
      src={`/api/connectors/${encodeURIComponent(id)}/icon.svg`}
      width={size}
      height={size}
      alt=""
    />
  );
}
