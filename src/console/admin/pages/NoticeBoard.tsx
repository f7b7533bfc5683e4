// Notice board settings (公示栏设置): for each branch in scope, whether its public board is on, a
// switch to turn it on or off (setNoticeBoard), and the link to the board itself (/board/<code>).
// The board shows masked names only; a branch that has not opted in shows nothing.
import { useState } from 'preact/hooks';
import type { PageProps } from './index.js';
import { gql } from '../../shared/api.js';
import { t, useLanguage } from '../../shared/i18n.js';
import { Alert, ErrorAlert, useAction } from '../../shared/ui.js';
import { Loaded, PageHeader, Tag, loadScopeBranches, useLoad, type BranchOption } from '../kit.js';

interface BoardBranch extends BranchOption { noticeBoard: boolean }

async function loadBoards(session: PageProps['session']): Promise<BoardBranch[]> {
  const branches = await loadScopeBranches(session);
  // One request: an alias per branch in scope (a subtree has tens of branches, not thousands).
  const fields = branches.map((b, i) => `b${i}: branch(code: ${JSON.stringify(b.code)}) { code noticeBoard }`).join(' ');
  const data = await gql<Record<string, { code: string; noticeBoard: boolean } | null>>(`query Boards { ${fields} }`);
  return branches.map((b, i) => ({ ...b, noticeBoard: Boolean(data[`b${i}`]?.noticeBoard) }));
}

function BoardRow({ branch, onChanged }: { branch: BoardBranch; onChanged(code: string, on: boolean): void }) {
  // Setting a switch to a value is idempotent by itself: the API takes no key for it.
  const act = useAction(async (on: boolean) => {
    const data = await gql<{ setNoticeBoard: { code: string; noticeBoard: boolean } }>(
      `mutation Board($input: SetNoticeBoardInput!) { setNoticeBoard(input: $input) { code noticeBoard } }`, { input: { branch: branch.code, enabled: on } });
    onChanged(branch.code, data.setNoticeBoard.noticeBoard);
  });
  const switchId = `board-${branch.code}`;
  return (
    <tr data-testid="board-row" data-branch={branch.code}>
      <td><span class="indent" ref={(el) => { if (el) el.style.paddingLeft = `${branch.depth * 16}px`; }}>{branch.name}</span> <span class="muted">· {branch.code}</span></td>
      <td>
        <button type="button" id={switchId} class={`switch${branch.noticeBoard ? ' switch-on' : ''}`} role="switch" aria-checked={branch.noticeBoard} disabled={act.busy}
          aria-label={t('console.board.switchLabel', { name: branch.name })} onClick={() => void act.run(!branch.noticeBoard)}>
          <span class="switch-handle" aria-hidden="true" />
        </button>{' '}
        {branch.noticeBoard ? <Tag kind="green">{t('console.board.on')}</Tag> : <Tag kind="gray">{t('console.board.off')}</Tag>}
        <ErrorAlert error={act.error} />
      </td>
      <td>{branch.noticeBoard ? <a href={`/board/${encodeURIComponent(branch.code)}`} target="_blank" rel="noopener">{t('console.board.open')}</a> : <span class="muted">—</span>}</td>
    </tr>
  );
}

export function NoticeBoardPage({ session }: PageProps) {
  useLanguage();
  const [changed, setChanged] = useState<Record<string, boolean>>({});
  const [message, setMessage] = useState<string | null>(null);
  const state = useLoad(() => loadBoards(session), [session.token]);
  return (
    <>
      <PageHeader title={t('console.menu.board')} />
      <Alert kind="info">{t('console.board.explain')}</Alert>
      {message && <Alert kind="success" testId="board-done">{message}</Alert>}
      <Loaded state={state}>{(list) => (
        <section class="card">
          <table class="table" data-testid="boards-table">
            <thead><tr><th>{t('console.branch')}</th><th>{t('console.board.state')}</th><th>{t('console.board.link')}</th></tr></thead>
            <tbody>{list.map((b) => (
              <BoardRow key={b.code} branch={{ ...b, noticeBoard: changed[b.code] ?? b.noticeBoard }} onChanged={(code, on) => {
                setChanged({ ...changed, [code]: on });
                setMessage(t(on ? 'console.board.turnedOn' : 'console.board.turnedOff', { name: b.name }));
              }} />
            ))}</tbody>
          </table>
        </section>
      )}</Loaded>
    </>
  );
}
