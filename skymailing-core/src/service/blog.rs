//! The blog: public to read, written by admins.

use std::sync::Arc;

use super::gate::Gate;
use crate::policy::{Action, Actor, Decision, Target, authorize, decide};
use crate::ports::{BlogStore, Clock};
use crate::{BlogPost, Error, ListQuery, Page, PostDraft, PostId};

/// Blog use cases.
#[derive(Clone)]
pub struct BlogService {
    gate: Gate,
    posts: Arc<dyn BlogStore>,
    clock: Arc<dyn Clock>,
}

impl BlogService {
    /// Wires the use cases.
    pub(crate) fn new(posts: Arc<dyn BlogStore>, clock: Arc<dyn Clock>, gate: Gate) -> Self {
        BlogService { gate, posts, clock }
    }

    fn is_writer(actor: Actor) -> bool {
        decide(actor, Action::WriteBlog, Target::None) == Decision::Allow
    }

    /// Whether `actor` may write the blog (its editor pages ask first): admins.
    ///
    /// A hint for showing a form or a button, decided on the actor as given
    /// (no store read); the use case itself checks the account as it is now.
    pub fn can_write(&self, actor: Actor) -> Result<(), Error> {
        authorize(actor, Action::WriteBlog, Target::None).map(drop)
    }

    /// Published posts; admins also see drafts.
    #[tracing::instrument(name = "blog.list", level = "debug", skip_all, fields(actor = ?actor))]
    pub async fn list(&self, actor: Actor, query: &ListQuery) -> Result<Page<BlogPost>, Error> {
        let actor = self.gate.admit(actor).await?;
        authorize_public(actor)?;
        Ok(self.posts.list_posts(Self::is_writer(actor), query).await?)
    }

    /// Reads a post, counting a view. Drafts are found only by admins (uncounted).
    #[tracing::instrument(name = "blog.read", level = "debug", skip_all, fields(actor = ?actor, id = %id))]
    pub async fn read(&self, actor: Actor, id: PostId) -> Result<BlogPost, Error> {
        let actor = self.gate.admit(actor).await?;
        authorize_public(actor)?;
        if let Some(post) = self.posts.view_post(id).await? {
            return Ok(post);
        }
        match self.posts.post(id).await? {
            Some(draft) if Self::is_writer(actor) => Ok(draft),
            _ => Err(Error::NotFound),
        }
    }

    /// A post as it is, drafts included, for its editor (admins); no view is counted.
    #[tracing::instrument(name = "blog.get", level = "debug", skip_all, fields(actor = ?actor, id = %id))]
    pub async fn get(&self, actor: Actor, id: PostId) -> Result<BlogPost, Error> {
        let actor = self.gate.admit(actor).await?;
        authorize(actor, Action::WriteBlog, Target::None)?;
        self.posts.post(id).await?.ok_or(Error::NotFound)
    }

    /// Writes a post.
    #[tracing::instrument(name = "blog.create", level = "debug", skip_all, fields(actor = ?actor))]
    pub async fn create(&self, actor: Actor, draft: &PostDraft) -> Result<BlogPost, Error> {
        let actor = self.gate.admit(actor).await?;
        let draft = &draft.revalidated()?;
        authorize(actor, Action::WriteBlog, Target::None)?;
        Ok(self.posts.create_post(draft, self.clock.now()).await?)
    }

    /// Changes a post.
    #[tracing::instrument(name = "blog.update", level = "debug", skip_all, fields(actor = ?actor, id = %id))]
    pub async fn update(
        &self,
        actor: Actor,
        id: PostId,
        draft: &PostDraft,
    ) -> Result<BlogPost, Error> {
        let actor = self.gate.admit(actor).await?;
        let draft = &draft.revalidated()?;
        authorize(actor, Action::WriteBlog, Target::None)?;
        self.posts
            .update_post(id, draft, self.clock.now())
            .await?
            .ok_or(Error::NotFound)
    }

    /// Deletes a post.
    #[tracing::instrument(name = "blog.delete", level = "debug", skip_all, fields(actor = ?actor, id = %id))]
    pub async fn delete(&self, actor: Actor, id: PostId) -> Result<(), Error> {
        let actor = self.gate.admit(actor).await?;
        authorize(actor, Action::WriteBlog, Target::None)?;
        if self.posts.delete_post(id).await? {
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }
}

fn authorize_public(actor: Actor) -> Result<(), Error> {
    decide(actor, Action::ReadPublic, Target::None).into_result()
}
